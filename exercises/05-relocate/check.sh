# check.sh for 05-relocate, sourced by exercises/ex.sh (see its helpers).

check() {
	run_program --trace
	expect_status 0 "the guest halts with its 42s (exit status 0)"
	expect_line "$OUT" '^step5: the guest halted in 32-bit protected mode: EAX = 42, physical memory\[0x100400\] = 42$' \
		"the guest's 42 for address 0x400 lands at physical 0x100400"
	expect_line "$OUT" '^step5: and physical memory\[0x400\], below the guest.s segments, = 0$' \
		"... and physical 0x400 stays 0"
	expect_line "$OUT" '^Hello from the guest: my code runs at offset 0x00001000, my stack at 0x000ff000$' \
		"the guest sees the same offsets as before: code at 0x1000, stack just below 1 MiB"
	# The mechanism: the segment registers' hidden base and limit, as
	# KVM reports them, and EIP still a small offset when the guest halts.
	# (KVM on AMD reports g 0 for this limit: the cache holds the limit
	# in bytes either way, and SVM keeps no G bit of its own.)
	expect_line "$ERR" '^\[trace\] start: cs 0x0008 base 0x100000 limit 0xfffff type 0xb s 1 dpl 0 present 1 db 1 l 0 g [01] ' \
		"the trace shows CS with base 0x100000 and limit 0xfffff (1 MiB)"
	expect_line "$ERR" '^\[trace\] end: cs 0x0008 base 0x100000 limit 0xfffff ' \
		"... still so at the end, after the guest reloaded its segments from the GDT"
	expect_line "$ERR" '^\[trace\] KVM_EXIT_HLT +rip 0x1[0-9a-f]{3}$' \
		"the hlt's RIP is an offset near 0x1000, not a physical address"
}
