# check.sh for 07-high-only, sourced by exercises/ex.sh (see its helpers).

check() {
	local exits

	run_program --trace
	expect_status 0 "the guest halts in the high half with its 42s (exit status 0)"
	expect_line "$OUT" '^Hello from the high half: code in the page at 0xffffffff80001000, stack in the page at 0xffffffff801ff000$' \
		"the guest's code and stack are in the high half"
	expect_line "$OUT" '^step7: the guest halted in 64-bit mode, in the high half: RAX = 42, memory\[0x400\] = 42$' \
		"the host finds 42 in RAX and at physical 0x400"
	# The mechanism: KVM_TRANSLATE walks the host's tables as the CPU
	# would; the vCPU's state comes from KVM_GET_SREGS/REGS.
	expect_line "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0x1000 -> not mapped$' \
		"KVM_TRANSLATE: nothing is mapped at virtual 0x1000"
	expect_line "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0xffffffff80001000 -> physical 0x1000$' \
		"KVM_TRANSLATE: virtual 0xffffffff80001000 is physical 0x1000"
	expect_line "$ERR" '^\[trace\] start: cs .* gdt 0xffffffff80000500 limit 0x17$' \
		"GDTR holds the GDT's high-half address (the guest reloads its segments through it)"
	exits=$(printf '%s\n' "$ERR" | grep '^\[trace\] KVM_EXIT_' || true)
	expect_count "$exits" ' rip 0xffffffff8000[0-9a-f]{4}( |$)' "$(printf '%s\n' "$exits" | grep -c .)" \
		"every exit in the trace has a RIP in the high half"
}
