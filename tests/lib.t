#!/usr/bin/env bash
# tests/lib.sh's need_steps, on a repository of its own under $SCRATCH
# (steps/stepN.c and ./stepN made up): the steps come from the sources,
# in numeric order, and one that is not built fails the script, by name.
# lab: on the host (needs no KVM: lab/run check runs it beside the lab)
. "$(dirname "$0")/lib.sh"
plan 7

repo=$SCRATCH/repo
mkdir -p "$repo/steps" "$repo/tests"
cp tests/lib.sh "$repo/tests/"
cat >"$repo/tests/t.t" <<'EOF'
. "$(dirname "$0")/lib.sh"
need_steps "$@"
echo "steps: ${STEPS[*]}"
EOF
for n in 1 2 9 10; do
	: >"$repo/steps/step$n.c"
	printf '#!/bin/sh\n' >"$repo/step$n"
	chmod +x "$repo/step$n"
done

run bash "$repo/tests/t.t" 1
is "$STATUS:$OUT" "0:steps: step1 step2 step9 step10" "all built: every step from the sources, in numeric order"
run bash "$repo/tests/t.t" 2 9
is "$STATUS:$OUT" "0:steps: step2 step9" "need_steps 2 9: those from 2 to 9"

rm "$repo/step9"
run bash "$repo/tests/t.t" 1
is "$STATUS" 1 "./step9 not built: the script fails"
is "$OUT" "1..1
not ok 1 - the steps this script runs are built" "... with one failed test, before any other"
like "$ERR" '^# not built: \./step9 \(steps/ has their sources\): make all builds them$' "... and a comment naming it"
run bash "$repo/tests/t.t" 10
is "$STATUS:$OUT" "0:steps: step10" "steps after it do not need it"
run bash "$repo/tests/t.t" 11
is "$STATUS:$ERR" "1:# no steps/stepN.c from step 11" "no step from 11 on: the script fails, saying so"

finish
