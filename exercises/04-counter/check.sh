# check.sh for 04-counter, sourced by exercises/ex.sh (see its helpers).

check() {
	local ins

	run_program --trace
	expect_status 0 "the guest halts with the counter's 42 in AX and at 0x400 (exit status 0)"
	expect_line "$OUT" '^step4: the guest read from the counter: 0 1 40 41 42 43 44$' \
		"the guest read 0 1 40 41 42 43 44 (word, word, byte, double word, rep insw x3)"

	# The mechanism: every value came from a KVM_EXIT_IO that the host
	# answered, in each size. "rep insw" may be one exit with count 3
	# (hardware KVM) or one exit per word (some KVMs): both are right.
	ins=$(printf '%s\n' "$ERR" | grep -E '^\[trace\] KVM_EXIT_IO .* in port 0x99 ' || true)
	expect_line "$ins" 'in port 0x99 size 1 count 1$' "the trace shows a one-byte in from port 0x99"
	expect_line "$ins" 'in port 0x99 size 4 count 1$' "... a four-byte one"
	expect_count "$ins" 'in port 0x99 size 2 count 1$' 2 "... two single words before the rep insw"
	expect_line "$ERR" 'out port 0x99 size 2 count 1' "... and the out that set the counter to 40"
	expect_equal "$(printf '%s\n' "$ins" | grep -E 'size 2 count [0-9]+$' |
		sed 's/.*count //' | awk '{ n += $1 } END { print n }')" 5 \
		"the guest read five words in all (the rep insw's exits count 3 together)"
}
