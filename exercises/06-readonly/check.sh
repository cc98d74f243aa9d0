# check.sh for 06-readonly, sourced by exercises/ex.sh (see its helpers).
# It needs paging outside long mode: on a KVM that cannot (kvm_pvm) the
# program exits 77 and the check says SKIP; run it in the lab.

check() {
	run_program --note-readonly --trace
	expect_status 0 "the guest halts with its 42s, the note page untouched (exit status 0)"
	expect_line "$ERR" '^\[trace\] the note.s page table entry: 0x180001 \(present, read-only\)$' \
		"the host maps the note page present but read-only"
	expect_line "$OUT" '^The host.s note: this note lies at guest-physical 0x180000$' \
		"the guest reads the note: reading a read-only page is allowed"
	expect_line "$OUT" '^page fault at 0x00400100, error code 0x3: a write to a present page, in kernel mode, at eip 0x0000[0-9a-f]{4}$' \
		"its write faults, and the handler reports CR2 = 0x400100 and error code 3 (present, write)"
	expect_no_line "$OUT" 'The reply went through' "... the write never went through"
	expect_line "$OUT" '^step6: the guest halted: EAX = 42, memory\[0x400\] = 42, its reply at physical 0x180100 = 0$' \
		"the host finds 42 in EAX and at 0x400, and no reply in the note page"
	# The mechanism: the page fault is delivered inside the guest, through
	# its IDT. KVM does not exit for it: the trace has only the console's
	# I/O and the final HLT, no triple fault.
	expect_no_line "$ERR" '^\[trace\] KVM_EXIT_(SHUTDOWN|MMIO|INTERNAL_ERROR|EXCEPTION|FAIL_ENTRY)' \
		"the trace shows no exit for the fault: only I/O and the HLT"
}
