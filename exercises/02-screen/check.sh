# check.sh for 02-screen, sourced by exercises/ex.sh (see its helpers).

check() {
	run_program --trace
	expect_status 0 "the guest runs to its end and leaves its 42 (exit status 0)"
	expect_line "$OUT" '^slot 1: guest 0x000b8000-0x000b8fff -> host 0x[0-9a-f]+ \(screen\)$' \
		"the memory map shows slot 1 at guest-physical 0xb8000, one page"
	expect_line "$OUT" '^screen row  0 \(colour 0x1f\): Hello from the guest, on the screen at 0xB8000$' \
		"the host reads row 0 of the screen from its own memory"
	expect_line "$OUT" '^screen row  2 \(colour 0x0a\):     No VM exit was needed to write this\.$' \
		"... and row 2, four cells in"
	expect_line "$OUT" '^The guest wrote two lines on its screen\.$' \
		"the guest carried on after writing the screen"
	# The mechanism: memory, not MMIO. A write to guest-physical memory
	# that no slot backs is a KVM_EXIT_MMIO; one to a slot is no exit.
	expect_no_line "$ERR" 'KVM_EXIT_MMIO' "the trace shows no KVM_EXIT_MMIO: the screen is memory"
	expect_count "$ERR" '^\[trace\] ' 42 "the trace shows 42 exits: 41 console bytes and the HLT"
}
