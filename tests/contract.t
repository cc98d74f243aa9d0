#!/usr/bin/env bash
# The step contract's bad input and host-setup faults, for every step that
# runs a guest (step 3 on, each of which must be built): each its own
# message on stderr and status 2, before any guest runs. (A missing or
# unusable KVM device: tests/no-device.t.)
. "$(dirname "$0")/lib.sh"

# Faults a step is known to get wrong, reported and waiting for a fix:
# "STEP:CASE" -> reason (see contract_check in lib.sh).
declare -A KNOWN=(
)
check() { contract_check "$@"; }

# The steps that run a guest: step 3 and up, in order, every one built.
need_steps 3

make_guest_files 3M

for step in "${STEPS[@]}"; do
	run "./$step" --help
	is "$STATUS" 0 "$step --help: status 0"
	like "$OUT" "^usage: $step " "$step --help: the usage on stdout"

	run "./$step" --bogus
	check "$step" "unknown flag" 2 'unknown option "--bogus"'
	run "./$step" extra
	check "$step" "a stray argument" 2 'unknown option "extra"'
	run "./$step" --timeout
	check "$step" "--timeout without a value" 2 '--timeout needs a value'
	for bad in soon -1 86401 nan 1x ''; do
		run "./$step" --timeout "$bad"
		check "$step" "--timeout '$bad'" 2 "--timeout wants a number of seconds"
	done
	# Step 13 has no --guest either: it runs its own guest, and its
	# options are the bench's.
	if [ "$step" = step13 ]; then
		bad_bench_options "$step" "./$step"
		continue
	fi
	# Step 10 has no --guest: its kernel and initramfs (lib.sh).
	if [ "$step" = step10 ]; then
		bad_linux_files "$step" "./$step"
		continue
	fi
	run "./$step" --guest
	check "$step" "--guest without a value" 2 '--guest needs a value'

	bad_guest_files "$step" "./$step"
	run "./$step" --guest "$SCRATCH/huge.bin"
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
done

plan "$TEST_NUMBER"
finish
