# check.sh for 03-single-step, sourced by exercises/ex.sh (see its helpers).

check() {
	run_program --trace
	expect_status 0 "the guest halts with 42 in AX (exit status 0)"
	expect_equal "$(printf '%s\n' "$OUT" | grep '^step ' || true)" "$(cat <<'STEPS'
step  1: rip 0x1003  ax 0x0024  cx 0x0000
step  2: rip 0x1006  ax 0x0024  cx 0x0003
step  3: rip 0x1009  ax 0x0026  cx 0x0003
step  4: rip 0x1006  ax 0x0026  cx 0x0002
step  5: rip 0x1009  ax 0x0028  cx 0x0002
step  6: rip 0x1006  ax 0x0028  cx 0x0001
step  7: rip 0x1009  ax 0x002a  cx 0x0001
step  8: rip 0x100b  ax 0x002a  cx 0x0000
STEPS
)" "the host shows each of the 8 instructions before the hlt, with the loop going round 3 times"
	expect_line "$OUT" '^the guest halted after 8 single steps$' "... and stops at the hlt"

	# The mechanism: each step is a KVM_RUN that returned KVM_EXIT_DEBUG.
	# The hlt ends with KVM_EXIT_HLT, or with one more DEBUG exit on
	# KVMs that report a stepped hlt that way.
	expect_equal "$(printf '%s\n' "$ERR" | grep '^\[trace\] KVM_EXIT_DEBUG' | head -n 8 |
		sed 's/.*rip //' | tr '\n' ' ')" \
		"0x1003 0x1006 0x1009 0x1006 0x1009 0x1006 0x1009 0x100b " \
		"the trace shows a KVM_EXIT_DEBUG after each instruction, at those addresses"
	expect_line "$(printf '%s\n' "$ERR" | tail -n 1)" \
		'^\[trace\] KVM_EXIT_(HLT|DEBUG) +rip 0x100c$' "... and the run ends just after the hlt"
}
