# check.sh for 06-alias, sourced by exercises/ex.sh (see its helpers).
# It needs paging outside long mode: on a KVM that cannot (kvm_pvm) the
# program exits 77 and the check says SKIP; run it in the lab.

check() {
	run_program --trace
	expect_status 0 "the guest halts with its three 42s (exit status 0)"
	expect_line "$OUT" '^The host.s note, through 0x400000: this note lies at guest-physical 0x180000$' \
		"the guest reads the host's note through 0x400000, as in step 6"
	expect_line "$OUT" '^Read back through 0x400000: written by the guest through 0x800000$' \
		"what it wrote through 0x800000 it reads back through 0x400000"
	expect_line "$OUT" '^step6: the guest halted: EAX = 42, memory\[0x400\] = 42, its reply at physical 0x180100 = 42$' \
		"its reply, written through 0x800000, is in the note page at physical 0x180100"
	# The mechanism: KVM_TRANSLATE walks the guest's page tables as the
	# CPU does, and finds both virtual addresses on the same page.
	expect_line "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0x400000 -> physical 0x180000$' \
		"KVM_TRANSLATE: virtual 0x400000 is physical 0x180000"
	expect_line "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0x800000 -> physical 0x180000$' \
		"KVM_TRANSLATE: virtual 0x800000 is physical 0x180000 too"
	expect_no_line "$ERR" 'KVM_EXIT_(SHUTDOWN|MMIO)' "no triple fault, no MMIO: the alias is memory"
}
