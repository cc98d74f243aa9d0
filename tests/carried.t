#!/usr/bin/env bash
# The code the steps carry from one to the next (die, kvm_ioctl, kvm_open,
# the options, the watchdog, the exit names, the register dump, and every
# other function, table, struct or #define that two steps share) is the
# same text in each, except where tests/carried-allow.txt says that a step
# changes it, and why. tests/carried.pl compares; a test per shared item.
# Then the comparer itself, on changed copies of the steps and of the
# allowlist under $SCRATCH: a line added to a carried function, a function
# that two steps write differently, an entry that allows nothing, a line
# that is no entry, each must fail; a change allowed, and carried on by
# the steps after it, must pass.
# lab: on the host (needs no KVM: lab/run check runs it beside the lab)
. "$(dirname "$0")/lib.sh"

SELF_CHECKS=15

run tests/carried.pl
results=$OUT status=$STATUS errors=$ERR
count=0
while IFS= read -r line; do
	case $line in PASS\ * | FAIL\ *) count=$((count + 1)) ;; esac
done <<<"$results"
plan $((count + 1 + SELF_CHECKS))

# One test per carried item; a failure's diff and the allowlist's
# problems go to the TAP comments.
while IFS= read -r line; do
	case $line in
	PASS\ *) ok 0 "${line#PASS }" ;;
	FAIL\ *) ok 1 "${line#FAIL }" ;;
	?*) diag "$line" ;;
	esac
done <<<"$results"
is "$status" 0 "tests/carried.pl: every difference in the carried code is allowed, every entry allows one" ||
	diag "$errors"

# copy_steps: a copy of steps/ in $SCRATCH/steps to change.
copy_steps() {
	rm -rf "$SCRATCH/steps"
	cp -R steps "$SCRATCH/steps"
}

# add_line N: a line more in kvm_ioctl of the copy's stepN.c, at its start.
add_line() {
	perl -0pi -e 's/(\nstatic int kvm_ioctl\([^{]*\n\{\n)/$1\t(void)0; \/* drift *\/\n/ or die "no kvm_ioctl\n"' \
		"$SCRATCH/steps/step$1.c"
}

# compare [VAR=VALUE...]: tests/carried.pl on the copy.
compare() {
	run env CARRIED_STEPS="$SCRATCH/steps" "$@" tests/carried.pl
}

# A line added to a function every step from 3 on carries, in step 5 only.
copy_steps
add_line 5
compare
is "$STATUS" 1 "a line added to step5's kvm_ioctl: the comparer fails (status 1)"
like "$OUT" '^FAIL kvm_ioctl \(steps [0-9 -]+\): step5 differs from the step before' \
	"... naming kvm_ioctl and step5"
like "$OUT" '^  \+	\(void\)0; /\* drift \*/$' "... with the added line in the diff"
is "$(grep -c '^FAIL' <<<"$OUT")" 1 "... and nothing else"

# The same line allowed for step 5, and carried on by every step after it.
last=$(cd steps && ls step*.c | sed 's/^step\([0-9]*\)\.c$/\1/' | sort -n | tail -n 1)
for n in $(seq 6 "$last"); do [ ! -f "$SCRATCH/steps/step$n.c" ] || add_line "$n"; done
cp tests/carried-allow.txt "$SCRATCH/allow.txt"
printf 'kvm_ioctl  5  a self-check of tests/carried.t\n' >>"$SCRATCH/allow.txt"
compare CARRIED_ALLOW="$SCRATCH/allow.txt"
is "$STATUS" 0 "... allowed for step 5 and carried on by steps 6 to $last: it passes"
like "$OUT" '^PASS kvm_ioctl: .*, changed by step 5 as allowed$' "... and says that step 5 changes it"

# A step built on an earlier one (a base line) is compared with that
# one: a change that step 10 makes is not step 12's, whose base is
# step 9.
copy_steps
add_line 10
cp tests/carried-allow.txt "$SCRATCH/allow.txt"
printf 'kvm_ioctl  10  a self-check of tests/carried.t\n' >>"$SCRATCH/allow.txt"
compare CARRIED_ALLOW="$SCRATCH/allow.txt"
is "$STATUS" 0 "a change by step 10, not carried by step 12 (base 9): it passes"
add_line 12
compare CARRIED_ALLOW="$SCRATCH/allow.txt"
like "$OUT" '^FAIL kvm_ioctl \(steps [0-9 -]+, changed by step 10 as allowed\): step12 differs from the step before' \
	"... and the same line in step 12: it fails, step 12 being compared with step 9"
printf 'base  99  7  no such step\n' >>"$SCRATCH/allow.txt"
run env CARRIED_ALLOW="$SCRATCH/allow.txt" tests/carried.pl
like "$OUT" '^FAIL .*/allow\.txt:[0-9]+: there is no step99 to build on step7$' "a base line for a step that is not there: it fails"

# Nothing is listed for a function that is new: two steps that have it
# must agree on it all the same.
copy_steps
printf '\nstatic int carried_probe(void)\n{\n\treturn %d;\n}\n' 1 >>"$SCRATCH/steps/step1.c"
printf '\nstatic int carried_probe(void)\n{\n\treturn %d;\n}\n' 2 >>"$SCRATCH/steps/step2.c"
compare
is "$STATUS" 1 "a new function, different in steps 1 and 2: the comparer fails"
like "$OUT" '^FAIL carried_probe \(steps 1 2\): step2 differs from the step before' "... naming it and step 2"

# An entry for a change that is not there.
cp tests/carried-allow.txt "$SCRATCH/allow.txt"
printf 'kvm_ioctl  5  no change at all\n' >>"$SCRATCH/allow.txt"
run env CARRIED_ALLOW="$SCRATCH/allow.txt" tests/carried.pl
is "$STATUS" 1 "an allowlist entry that allows nothing: the comparer fails"
like "$OUT" '^FAIL .*/allow\.txt:[0-9]+: allows step5 to change kvm_ioctl, but step5 carries kvm_ioctl unchanged$' \
	"... naming the entry and why"

# A line that is not NAME  STEPS  REASON.
cp tests/carried-allow.txt "$SCRATCH/allow.txt"
printf 'kvm_ioctl 5 one space\n' >>"$SCRATCH/allow.txt"
run env CARRIED_ALLOW="$SCRATCH/allow.txt" tests/carried.pl
is "$STATUS" 1 "an allowlist line that is no entry: the comparer fails"
like "$OUT" '^FAIL .*/allow\.txt:[0-9]+: not NAME  STEPS  REASON .*: kvm_ioctl 5 one space$' "... naming the line"

finish
