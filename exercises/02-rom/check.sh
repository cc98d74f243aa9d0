# check.sh for 02-rom, sourced by exercises/ex.sh (see its helpers).

check() {
	local message="This is the host's ROM, read-only."

	run_program --trace
	expect_status 0 "the guest runs to its end and leaves its 42 (exit status 0)"
	expect_count "$OUT" "^ROM says: $message\$" 2 \
		"the guest prints the ROM's message twice, the same before and after its writes"
	expect_line "$OUT" '^step4: ignored a write of 1 byte\(s\) to the ROM at 0xf0000$' \
		"the host ignores the guest's byte written at 0xf0000"
	expect_line "$OUT" '^step4: ignored a write of 2 byte\(s\) to the ROM at 0xf0010$' \
		"... and its word at 0xf0010"
	expect_line "$OUT" "^step4: the ROM at 0xf0000 still holds: $message\$" \
		"the host's memory behind the ROM is unchanged"
	# The mechanism: reads of a read-only slot cost no exit; each write
	# to it is a KVM_EXIT_MMIO carrying the address and the bytes.
	expect_line "$ERR" '^\[trace\] KVM_EXIT_MMIO .* write 1 bytes at 0xf0000$' \
		"the trace shows the write of the byte as KVM_EXIT_MMIO"
	expect_line "$ERR" '^\[trace\] KVM_EXIT_MMIO .* write 2 bytes at 0xf0010$' \
		"... and the write of the word"
	expect_no_line "$ERR" 'KVM_EXIT_MMIO .* read ' \
		"... and no MMIO read: the guest reads the ROM as memory"
}
