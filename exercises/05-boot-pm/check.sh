# check.sh for 05-boot-pm, sourced by exercises/ex.sh (see its helpers).

check() {
	run_program --boot --trace
	expect_status 0 "the guest halts in 32-bit protected mode with its 42s (exit status 0)"
	expect_line "$OUT" '^Hello from real mode\. Switching to protected mode\.\.\.$' \
		"the guest says hello from real mode"
	expect_line "$OUT" "^This message lies at 0x180000, out of real mode's reach\.\$" \
		"... then prints the host's message from 0x180000, which takes 32-bit addresses"
	expect_line "$OUT" '^step5: the guest halted in 32-bit protected mode: EAX = 42, memory\[0x400\] = 42$' \
		"the host finds 42 in EAX and at 0x400, in 32-bit protected mode"
	# The mechanism, as KVM_GET_SREGS reports it: real mode at the start
	# with no GDT; at the end CR0.PE, CS from GDT entry 1 (32-bit, flat)
	# and GDTR pointing into the guest's own image.
	expect_line "$ERR" '^\[trace\] start: cr0 0x[0-9a-f]+ \([A-Z ]*\) ' \
		"the trace shows the start state"
	expect_no_line "$(printf '%s\n' "$ERR" | grep '^\[trace\] start: cr0' || true)" '\(PE' \
		"... with CR0.PE clear: the host started the guest in real mode"
	expect_line "$ERR" '^\[trace\] start: cs 0x0000 .* gdt 0x0 ' "... and no GDT"
	expect_line "$ERR" '^\[trace\] end: cr0 0x[0-9a-f]+ \(PE ' "at the end CR0.PE is set"
	expect_line "$ERR" '^\[trace\] end: cs 0x0008 base 0x0 limit 0xffffffff type 0x[9a-f]b? ?.*db 1 l 0 g 1 ' \
		"... CS is selector 0x08: flat, 4 GiB, 32-bit (db 1)"
	expect_line "$ERR" '^\[trace\] end: cs .* gdt 0x[1-9a-f][0-9a-f]{3} limit 0x[0-9a-f]*[7f]$' \
		"... and GDTR points at the guest's own table, in its image"
}
