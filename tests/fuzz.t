#!/usr/bin/env bash
# A short fuzz run: FUZZ_COUNT (default 200; in the lab 100, and 40 for a
# SANITIZE=1 build) random guests of each mode through every step that
# runs a guest (tests/fuzz.pl; make fuzz is the long run). Fails on a
# crash, a hang, a status outside 0 and 1 (77 only where this host's KVM
# cannot run a step, never in the lab) or a sanitizer report; the counts
# by exit reason are in TAP comments.
. "$(dirname "$0")/lib.sh"
need_steps 3
plan 2

# The lab's CPU is emulated: half as many there (make fuzz is the long run),
# and fewer again for sanitized steps, which run two and a half times
# slower (CI, 2026-12-01: 100 images took 143 s plain, 358 s sanitized).
count=${FUZZ_COUNT:-200}
if [ "${KVM_LAB:-0}" = 1 ]; then
	count=${FUZZ_COUNT:-100}
	[ "$(cat build/steps-linked 2>/dev/null)" != sanitize ] || count=${FUZZ_COUNT:-40}
fi
TEST_TIMEOUT=900
run tests/fuzz.pl --seed "${FUZZ_SEED:-1}" --count "$count" --keep "$SCRATCH/failures"
diag "$OUT"
is "$STATUS" 0 "tests/fuzz.pl: no crash, hang, bad status or sanitizer report"
like "$OUT" '^step4 \(real mode, [0-9]+ images\):' "... and step 4 ran its images"
finish
