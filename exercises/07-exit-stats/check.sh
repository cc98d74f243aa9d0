# check.sh for 07-exit-stats, sourced by exercises/ex.sh (see its helpers).
# The counts are checked against the --trace output of the same run: one
# trace line per exit that KVM_RUN returned.

# expected_stats: the "exits:" lines the trace in $ERR calls for, in the
# order the README asks (these are the reasons this guest can cause). A
# trace line is "[trace] KVM_EXIT_IO rip X in|out port P ...": $5 is the
# direction, $7 the port (only 0xe9 here, so sorting them as text works).
expected_stats() {
	printf '%s\n' "$ERR" | awk '
		/^\[trace\] KVM_EXIT_/ {
			total++; reason[$2]++
			if ($2 == "KVM_EXIT_IO") io[$5 " port " $7]++
		}
		END {
			n = split("KVM_EXIT_IO KVM_EXIT_HLT KVM_EXIT_MMIO KVM_EXIT_SHUTDOWN", order)
			for (i = 1; i <= n; i++) {
				r = order[i]
				if (!reason[r]) continue
				print "exits: " r " " reason[r]
				if (r == "KVM_EXIT_IO")
					for (k in io) print "exits: KVM_EXIT_IO " k " " io[k] | "sort -k5,5 -k3,3"
				close("sort -k5,5 -k3,3")
			}
			print "exits: total " total
		}'
}

check() {
	run_program --trace
	expect_status 0 "the guest halts with its 42s (exit status 0)"
	expect_equal "$(printf '%s\n' "$OUT" | grep '^exits: ' || true)" "$(expected_stats)" \
		"the counts match the exits of the trace, by reason and by port"
	expect_line "$OUT" '^exits: KVM_EXIT_IO out port 0xe9 78$' \
		"... 78 outs to port 0xe9: one per character the guest printed"

	run_program --trace --no-high-half
	expect_status 1 "without the high-half mapping the guest triple-faults (exit status 1)"
	expect_equal "$(printf '%s\n' "$OUT" | grep '^exits: ' || true)" "$(expected_stats)" \
		"... and the counts still match the trace, the KVM_EXIT_SHUTDOWN among them"
	expect_line "$OUT" '^exits: KVM_EXIT_SHUTDOWN 1$' "... which has one KVM_EXIT_SHUTDOWN"
}
