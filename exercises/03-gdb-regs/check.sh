# check.sh for 03-gdb-regs, sourced by exercises/ex.sh (see its helpers).
# The expected lines are what gdb 13 prints for these values on x86-64.

# The dump: the lines after "(gdb) info registers" up to the step's own.
gdb_dump() {
	printf '%s\n' "$OUT" | sed -n '/^(gdb) info registers$/,/^step3: /p' | sed '1d;$d'
}

check() {
	local value hex

	run_program
	expect_status 0 "the guest halts with 42 in AX (exit status 0)"
	expect_equal "$(gdb_dump)" "$(cat <<'GDB'
rax            0x2a                42
rbx            0x0                 0
rcx            0xffffffffffffffff  -1
rdx            0x8000000000000000  -9223372036854775808
rsi            0x1234              4660
rdi            0xdeadbeef          3735928559
rbp            0x7c00              0x7c00
rsp            0xf000              0xf000
r8             0x8                 8
r9             0x99                153
r10            0xf4240             1000000
r11            0xffffffff          4294967295
r12            0x100000000         4294967296
r13            0xfffffffffffffff3  -13
r14            0x7fffffffffffffff  9223372036854775807
r15            0xf                 15
rip            0x100d              0x100d
eflags         0x457               [ CF PF AF ZF DF ]
cs             0x0                 0
ss             0x0                 0
ds             0x0                 0
es             0x0                 0
fs             0x700               1792
gs             0xb800              47104
fs_base        0x7000              28672
gs_base        0xb8000             753664
GDB
)" "the registers after the run, exactly as gdb's info registers shows them"

	# The values come from the vCPU, not from the page: a guest of four
	# bytes, "mov ax, N; hlt", with N chosen at random for each check.
	value=$((RANDOM % 60000 + 1000))
	hex=$(printf '%04x' "$value")
	printf "\\xb8\\x${hex:2:2}\\x${hex:0:2}\\xf4" >"$WORK/guest.bin"
	run_program --guest "$WORK/guest.bin"
	expect_status 0 "a guest of our own, mov ax, $value; hlt: exit status 0"
	expect_line "$(gdb_dump)" "^rax            0x$(printf '%-18x' "$value")$value\$" \
		"... and rax shows $value, from KVM_GET_REGS"
	expect_line "$(gdb_dump)" '^rip            0x1004              0x1004$' \
		"... rip the byte after its hlt"
	expect_line "$(gdb_dump)" '^eflags         0x2                 \[ \]$' \
		"... and eflags with no flag set as \"[ ]\""
}
