# check.sh for 08-uptime, sourced by exercises/ex.sh (see its helpers). The
# exercise's guest, built beside the program (guest.bin), runs through
# --guest; step 8's own guest is still the embedded one.

# uptime_values DIRECTION SIZE ADDRESS: the data of every such access to
# UPTIME in the trace lines $mmio, in nanoseconds (decimal), in order.
uptime_values() {
	local data
	for data in $(printf '%s\n' "$mmio" |
		sed -nE "s/.* $1 $2 bytes at $3 data 0x([0-9a-f]+)  .*/\\1/p"); do
		echo $((16#$data))
	done
}

check() {
	local guest=${PROGRAM%/*}/guest.bin golden mmio first low high third second verdict

	run_program --guest "$guest"
	expect_status 0 "the exercise's guest powers off with exit code 0 (exit status 0)"
	expect_line "$OUT" '^uptime: [1-9][0-9]* ns, then [1-9][0-9]* ns \(read as 4 \+ 4 bytes\), then [1-9][0-9]* ns after a write of 0: ok$' \
		"the guest read UPTIME going forward, below 10 s, and its write changed nothing"

	# The mechanism: each access is a KVM_EXIT_MMIO at 0xd0000020-27 that
	# the sysregs answer, by the name of their fifth register.
	run_program --trace --guest "$guest"
	expect_status 0 "with --trace too (exit status 0)"
	mmio=$(printf '%s\n' "$ERR" | grep -E '^\[trace\] KVM_EXIT_MMIO .* bytes at 0xd000002[0-7] ' || true)
	expect_line "$mmio" 'read 8 bytes at 0xd0000020 data 0x[0-9a-f]{16}  sysregs UPTIME$' \
		"the trace shows UPTIME read as 8 bytes at 0xd0000020"
	expect_line "$mmio" 'read 4 bytes at 0xd0000020 data 0x[0-9a-f]{8}  sysregs UPTIME$' \
		"... its low half read as 4 bytes at 0xd0000020"
	expect_line "$mmio" 'read 4 bytes at 0xd0000024 data 0x[0-9a-f]{8}  sysregs UPTIME$' \
		"... its high half as 4 bytes at 0xd0000024"
	expect_line "$mmio" 'write 8 bytes at 0xd0000020 data 0x0{16}  sysregs UPTIME$' \
		"... and the guest's write of 0 to it"

	# The host's answers, from the trace: the first 8-byte read, the last
	# halves (the guest reads the high half last), the 8-byte read after
	# the write.
	first=$(uptime_values read 8 0xd0000020 | head -n 1)
	third=$(uptime_values read 8 0xd0000020 | tail -n 1)
	low=$(uptime_values read 4 0xd0000020 | tail -n 1)
	high=$(uptime_values read 4 0xd0000024 | tail -n 1)
	second=$(((${high:-0} << 32) + ${low:-0}))
	first=${first:-0} third=${third:-0}
	verdict="first $first, halves $second, after the write $third"
	if ((0 < first && first < second && second <= third && third < 10000000000)); then
		verdict="forward and below 10 s: $verdict"
	fi
	expect_line "$verdict" '^forward and below 10 s: ' \
		"the host's answers (in the trace) go forward and stay below 10 s, the write aside"

	# Step 8's guest, embedded, drives COM1 and the sysregs as before.
	run_program
	expect_status 0 "step 8's own guest still powers off with exit code 0 (exit status 0)"
	read_text "$ROOT/tests/golden/step8.out" golden
	expect_equal "$(printf '%s\n' "$OUT" |
		sed 's/clock says [0-9][0-9]* s since 1970$/clock says N s since 1970/')" "$golden" \
		"... and prints step 8's output (tests/golden/step8.out; the clock's seconds masked)"
}
