#!/usr/bin/env bash
# The shell test library: tests/testlib.sh, the part tests/lib.sh and
# exercises/ex.sh share (run_limited, read_exact, read_text, matches,
# indent), and that each has no copy of its own; then tests/lib.sh's
# need_steps, on a repository of its own under $SCRATCH (steps/stepN.c
# and ./stepN made up): the steps come from the sources, in numeric
# order, and one that is not built fails the script, by name.
# lab: on the host (needs no KVM: lab/run check runs it beside the lab)
. "$(dirname "$0")/lib.sh"
plan 20

# run_limited: output, status, the limit, and stdin empty.
run_limited 5 "$SCRATCH" sh -c 'echo out; echo err >&2; exit 3'
is "$STATUS:$OUT:$ERR" "3:out:err" "run_limited: stdout, stderr and the status"
run_limited 0.2 "$SCRATCH" sleep 5
is "$STATUS" 124 "run_limited: a command past its limit is stopped, status 124"
run_limited 5 "$SCRATCH" cat
is "$STATUS:$OUT" "0:" "run_limited: stdin is empty (cat does not wait)"
(set -eu; run_limited 5 "$SCRATCH" false; echo "went on: $STATUS") >"$SCRATCH/e" 2>&1
read_text "$SCRATCH/e" text
is "$text" "went on: 1" "run_limited: a failing command does not end a set -e script"

# read_exact and read_text.
printf 'a\n\nb\n\n\n' >"$SCRATCH/text"
read_exact "$SCRATCH/text" exact
read_text "$SCRATCH/text" text
is "$(printf '%s' "$exact" | od -An -c | tr -s ' ')" " a \n \n b \n \n \n" "read_exact: every byte"
is "$text" "$(cat "$SCRATCH/text")" "read_text: as \$(cat FILE), less the final newlines"
: >"$SCRATCH/empty"
read_text "$SCRATCH/empty" text
is "${#text}" 0 "read_text: an empty file, an empty text"

# matches: the status, the lines and their count.
matches $'one\ntwo\nthree' '^t' && status=0 || status=1
is "$status:$MATCHES:$MATCHED" $'0:2:two\nthree' "matches: status 0, the matching lines and how many"
matches $'one\ntwo' 'x' && status=0 || status=1
is "$status:$MATCHES:$MATCHED" "1:0:" "matches: no line, status 1"
matches 'a+b' '^a\+b$' && status=0 || status=1
is "$status" 0 "matches: an extended regular expression, as grep -E"

# indent.
is "$(indent '')" "          (nothing)" "indent: nothing, said"
is "$(indent "$(seq 20)" | tail -n 2 | tr -d ' ')" $'15\n...' "indent: at most 15 lines, then ..."

# One library: neither user keeps a copy of its own.
copies=$(grep -nE '^(read_text|read_exact|read_file|matches|matching|indent|run_limited)\(\)' \
	tests/lib.sh exercises/ex.sh || true)
is "${copies:-none}" none "tests/lib.sh and exercises/ex.sh define none of tests/testlib.sh's functions"

repo=$SCRATCH/repo
mkdir -p "$repo/steps" "$repo/tests"
cp tests/lib.sh tests/testlib.sh "$repo/tests/"
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
