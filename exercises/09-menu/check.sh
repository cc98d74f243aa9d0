# check.sh for 09-menu, sourced by exercises/ex.sh (see its helpers). The
# program embeds the exercise's guest in place of step 9's own; the keys
# come through its standard input, each one an interrupt of the UART.

# run_input TEXT [ARGS...]: run the program with TEXT on its standard
# input, a pipe that brings it after a second, then closes. (The guest
# is in its menu by then; the second is for the host's rate check, which
# a run that ends at once judges on 15 ticks.)
run_input() {
	local program=$PROGRAM text=$1
	shift
	PROGRAM=sh run_program -c 'text=$1; shift; { sleep 1; printf %s "$text"; } | "$0" "$@"' \
		"$program" "$text" "$@"
}

# answers: the menu's lines in $OUT (uptime, ticks, ?), in order.
answers() {
	printf '%s\n' "$OUT" | grep -E '^(uptime: |ticks: |\?$)' || true
}

check() {
	local got uptime= ticks= verdict

	# A rate measured wrong on a busy machine: again (tests/testlib.sh).
	again_while_rate_unsure run_input 'ut?xq'
	expect_status 0 "printf 'ut?xq' | step9: q powers off with exit code 0 (exit status 0)"
	got=$(answers)
	expect_equal "$(printf '%s\n' "$got" | sed -E 's/[0-9]+/N/g')" 'uptime: N.N s
ticks: N
?
?' "the menu answers u, t, ? and x in order: the uptime, the ticks, ? and ? (digits as N)"
	expect_line "$got" '^uptime: [0-9]+\.[0-9]{2} s$' "... the uptime in seconds, two decimals (a tick is 10 ms)"
	[[ $got =~ uptime:\ ([0-9]+)\.([0-9]{2})\ s ]] &&
		uptime=$((10#${BASH_REMATCH[1]}${BASH_REMATCH[2]}))
	[[ $got =~ ticks:\ ([0-9]+) ]] && ticks=${BASH_REMATCH[1]}
	verdict="uptime ${uptime:-?} ticks, then ticks ${ticks:-?}"
	if [ -n "$uptime" ] && [ -n "$ticks" ] && ((uptime >= 20 && ticks >= uptime)); then
		verdict="timer: $verdict"
	fi
	expect_line "$verdict" '^timer: ' \
		"... both by the timer: at least the 20 ticks of the timer check, the ticks no fewer than the uptime's"
	expect_no_line "$OUT" '^The end: ' "... and q ends the menu at once, no \"The end\" line"

	# q comes first: nothing after it is answered, and no uptime is
	# printed, not even the one at the end of the input.
	again_while_rate_unsure run_input 'qu'
	expect_status 0 "printf 'qu' | step9: exit status 0"
	expect_no_line "$OUT" '^uptime: ' "... no uptime line: q powered off before the u"

	# The mechanism: each key is a byte the UART's interrupt (IRQ 4)
	# took from RBR; q's power-off a write to the sysregs.
	again_while_rate_unsure run_input 'ut?xq' --trace
	expect_status 0 "with --trace too (exit status 0)"
	expect_line "$ERR" '^\[trace\] KVM_IRQ_LINE irq 4 level 1 ' "the trace shows the UART raising IRQ 4"
	expect_line "$ERR" "in port 0x3f8 size 1 count 1 data 0x75 'u'  uart RBR\$" \
		"... and the guest's handler reading the u from RBR"
	expect_line "$ERR" "in port 0x3f8 size 1 count 1 data 0x71 'q'  uart RBR\$" "... and the q"
	expect_line "$ERR" 'KVM_EXIT_MMIO .* write 1 bytes at 0xd0000018 data 0x00  sysregs POWER_OFF$' \
		"... then the power-off: 0 written to the sysregs' POWER_OFF"
}
