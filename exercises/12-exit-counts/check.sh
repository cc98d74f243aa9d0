# check.sh for 12-exit-counts, sourced by exercises/ex.sh (see its
# helpers). Each vCPU's counts are checked against the --trace output of
# the same run: one trace line per exit, "[trace] cpu N KVM_EXIT_...".

# expected_counts: the "exits:" lines the trace in $ERR calls for, each
# vCPU in order, its reasons in the order of their numbers (the ones
# this guest can cause, listed so), then its total.
expected_counts() {
	printf '%s\n' "$ERR" | awk -v cpus="$1" '
		/^\[trace\] cpu [0-9]+ KVM_EXIT_/ { n[$3 " " $4]++; total[$3]++ }
		END {
			k = split("KVM_EXIT_IO KVM_EXIT_HLT KVM_EXIT_MMIO KVM_EXIT_SHUTDOWN KVM_EXIT_INTERNAL_ERROR", order)
			for (cpu = 0; cpu < cpus; cpu++) {
				for (i = 1; i <= k; i++)
					if (n[cpu " " order[i]])
						print "exits: cpu " cpu " " order[i] " " n[cpu " " order[i]]
				print "exits: cpu " cpu " total " total[cpu] + 0
			}
		}'
}

# totals_of_report: each vCPU's exits as the report gives them, as the
# "exits: cpu N total COUNT" lines they must equal.
totals_of_report() {
	printf '%s\n%s\n' "$OUT" "$ERR" |
		sed -n 's/^step12: cpu \([0-9]\): .*; \([0-9]*\) exits$/exits: cpu \1 total \2/p'
}

check() {
	local cpus

	for cpus in 2 3; do
		run_program --trace --cpus $cpus
		expect_status 0 "--cpus $cpus: every CPU counts and halts (exit status 0)"
		expect_equal "$(printf '%s\n' "$OUT" | grep '^exits: ' || true)" "$(expected_counts $cpus)" \
			"--cpus $cpus: each vCPU's counts match its exits in the trace, by reason, and its total"
		expect_equal "$(printf '%s\n' "$OUT" | grep '^exits: cpu [0-9] total ' || true)" \
			"$(totals_of_report)" "--cpus $cpus: ... and each total is the exits of the report's line"
	done

	run_program --trace --guest "$ROOT/build/tests/guests/smp-deadlock.elf" --timeout 0.5
	expect_status 1 "a deadlocked guest: the watchdog stops it (exit status 1)"
	expect_equal "$(printf '%s\n' "$OUT" | grep '^exits: ' || true)" "$(expected_counts 2)" \
		"... and the counts still match the trace"
}
