# check.sh for 12-barrier, sourced by exercises/ex.sh (see its helpers).
# The program embeds the exercise's guest in place of step 12's own; the
# check reads the guest's lines around the barrier.

# barrier_order: the order of the barrier's lines in $OUT, one
# letter each: A for "at the barrier", P for "past the barrier".
barrier_order() {
	printf '%s\n' "$OUT" | sed -n 's/^cpu [0-9]: at the barrier$/A/p; s/^cpu [0-9]: past the barrier, .*/P/p' |
		tr -d '\n'
}

check() {
	local cpus total as ps

	for cpus in 1 2 4; do
		total=$((cpus * 5000))
		run_program --cpus $cpus
		expect_status 0 "--cpus $cpus: the guest counts and halts, the host checks the counter (exit status 0)"
		as=$(printf "%${cpus}s" '' | tr ' ' A)
		ps=$(printf "%${cpus}s" '' | tr ' ' P)
		expect_equal "$(barrier_order)" "$as$ps" \
			"--cpus $cpus: every CPU at the barrier (A) before any past it (P)"
		expect_count "$OUT" "^cpu [0-9]: past the barrier, the counter is $total\$" $cpus \
			"--cpus $cpus: every CPU past the barrier sees the whole count, $cpus x 5000 = $total"
	done
}
