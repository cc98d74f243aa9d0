#!/usr/bin/env bash
# The step contract's bad input and host-setup faults, for every step that
# runs a guest (step 3 on, each of which must be built): each its own
# message on stderr and status 2, before any guest runs. (A missing or
# unusable KVM device: tests/no-device.t.)
. "$(dirname "$0")/lib.sh"

# Faults a step is known to get wrong, reported and waiting for a fix:
# "STEP:CASE" -> reason. Their tests run as TAP TODO tests: a failure is
# shown but does not fail the suite, and a pass is reported as a surprise.
declare -A KNOWN=(
)

# check STEP CASE STATUS REGEX: the last run exited STATUS, and stderr
# matches REGEX; as TODO tests if STEP:CASE is a known fault.
check() {
	local step=$1 case=$2 status=$3 regex=$4 todo=${KNOWN[$1:$2]:-}
	# A step that finds this host's KVM unable to run it may say so (77)
	# before it looks at its guest file: a skip (a failure in the lab).
	if [ "$status" != 77 ] && unsupported 2; then return 0; fi
	if [ -n "$todo" ]; then
		local got=0
		[ "$STATUS" = "$status" ] && printf '%s\n' "$ERR" | grep -Eq -- "$regex" || got=1
		TEST_NUMBER=$((TEST_NUMBER + 1))
		echo "$([ $got = 0 ] || echo 'not ')ok $TEST_NUMBER - $step, $case: status $status, /$regex/ # TODO $todo"
		return 0
	fi
	is "$STATUS" "$status" "$step, $case: status $status"
	like "$ERR" "$regex" "$step, $case: the message says so"
}

# The steps that run a guest: step 3 and up, in order, every one built.
need_steps 3

mkdir "$SCRATCH/dir"
: >"$SCRATCH/empty.bin"
truncate -s 3M "$SCRATCH/huge.bin"
mkfifo "$SCRATCH/fifo"

for step in "${STEPS[@]}"; do
	run "./$step" --help
	is "$STATUS" 0 "$step --help: status 0"
	like "$OUT" "^usage: $step " "$step --help: the usage on stdout"

	run "./$step" --bogus
	check "$step" "unknown flag" 2 'unknown option "--bogus"'
	run "./$step" extra
	check "$step" "a stray argument" 2 'unknown option "extra"'
	run "./$step" --guest
	check "$step" "--guest without a value" 2 '--guest needs a value'
	run "./$step" --timeout
	check "$step" "--timeout without a value" 2 '--timeout needs a value'
	for bad in soon -1 86401 nan 1x ''; do
		run "./$step" --timeout "$bad"
		check "$step" "--timeout '$bad'" 2 "--timeout wants a number of seconds"
	done

	run "./$step" --guest "$SCRATCH/missing.bin"
	check "$step" "a missing guest file" 2 'cannot open guest file .*missing.bin: No such file'
	run "./$step" --guest "$SCRATCH/dir"
	check "$step" "a directory as the guest file" 2 'is a directory'
	run "./$step" --guest "$SCRATCH/empty.bin"
	check "$step" "an empty guest file" 2 'is empty'
	run "./$step" --guest "$SCRATCH/huge.bin"
	check "$step" "a guest file larger than guest memory" 2 'too large'
	# The room the step says it has is exactly right: a guest of that
	# size (hlt, then zeros) runs; one byte more is refused.
	room=$(printf '%s\n' "$ERR" | sed -n 's/.*room for \([0-9][0-9]*\) bytes.*/\1/p; s/^ *for \([0-9][0-9]*\) bytes.*/\1/p' | head -n 1)
	if [ -n "$room" ]; then
		{ printf '\xf4'; head -c $((room - 1)) /dev/zero; } >"$SCRATCH/full.bin"
		run "./$step" --guest "$SCRATCH/full.bin"
		if ! unsupported 2; then
			is "$STATUS" 0 "$step, a guest file of exactly the room ($room bytes): status 0"
			like "$OUT" 'halted' "$step, a guest file of exactly the room: it ran and halted"
		fi
		printf '\0' >>"$SCRATCH/full.bin"
		run "./$step" --guest "$SCRATCH/full.bin"
		check "$step" "a guest file one byte over the room" 2 'too large'
	else
		ok 1 "$step, a guest file too large: the message gives the room in bytes"
	fi
	run "./$step" --guest /dev/zero
	check "$step" "a device as the guest file" 2 'not a regular file'
	# A FIFO with no writer: opening it must not wait for one.
	TEST_TIMEOUT=2 run "./$step" --guest "$SCRATCH/fifo"
	check "$step" "a FIFO as the guest file" 2 'not a regular file'
done

plan "$TEST_NUMBER"
finish
