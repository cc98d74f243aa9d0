#!/usr/bin/env bash
# The book's outputs. A chapter shows a run of book/runs as recorded on
# real KVMs, in book/outputs/KVM/ (make book-outputs); the book is built
# from those files alone, so this test is what keeps them true:
#   - each run, run again now on this machine's KVM, prints what was
#     recorded for this KVM, exit status included (lines book/runs masks
#     are compared with their numbers masked: a CPU count, a host address;
#     of a run flagged "boot", only those lines are compared, and on a KVM
#     that runs a guest's kernel slowly, kvm_pvm, it is skipped, saying
#     why: the lab runs it; so is a run flagged "slow");
#   - every run is recorded on kvm_amd (the lab's, the KVM every build of
#     the book can count on) and shown by a chapter;
#   - no recording on any KVM holds a device error ("does not exist", "is
#     not a KVM device") unless its run is meant to show one: a recording
#     made where there was no KVM is not output.
. "$(dirname "$0")/lib.sh"
need_steps 1

# The recorder's functions: runs (book/runs as NAME, COMMAND, MASK, FLAGS
# lines, split by \037), masked (how recordings are compared), boots.
. book/tools/record-outputs.sh

RUNS=$(runs)
COUNT=$(printf '%s\n' "$RUNS" | grep -c .)
plan $((3 + COUNT * 2))

# The runs the chapters show (' NAME ' each), and those whose chapter
# expects a device error: their blocks say expect="device-error", and
# book/filters/book.lua refuses a device error in any other.
SHOWN=" $(grep -ho '{\.output run="[^"]*"\( expect="device-error"\)\?' book/*.md |
	sed 's/{\.output run="\([^"]*\)"\( expect="\(.*\)"\)\?/\1\3/' | tr '\n' ' ')"

missing=
unshown=
while IFS=$'\037' read -r name _; do
	[ -f "book/outputs/kvm_amd/$name.out" ] || missing="$missing $name"
	[[ $SHOWN == *" $name "* || $SHOWN == *" ${name}device-error "* ]] || unshown="$unshown $name"
done <<<"$RUNS"
is "$missing" "" "every run of book/runs is recorded on kvm_amd, in the lab (else: make book-outputs)"
is "$unshown" "" "every run of book/runs is shown by a chapter"

errors=
for out in $(grep -lE 'Run it in the lab instead|is not a KVM device|/dev/[a-z_-]+ does not exist' book/outputs/*/*.out); do
	name=${out##*/}
	[[ $SHOWN == *" ${name%.out}device-error "* ]] || errors="$errors $out"
done
is "$errors" "" "no recorded output is a device error, but where its chapter expects one"

if ! KVM=$(book/tools/record-outputs.sh --kind 2>/dev/null); then
	skip $((COUNT * 2)) "no KVM module here to compare the book's outputs with"
	finish
fi
if [ ! -d "book/outputs/$KVM" ]; then
	skip $((COUNT * 2)) "nothing recorded on $KVM (make book-outputs records its outputs)"
	finish
fi

# same_as_recorded NAME MASK FLAGS: whether the run's output now
# ($SCRATCH/now) and its status are the recording's; its output and the
# recording's, as compared (masked), in now and then. A run flagged
# "timed" prints what it was recorded with only if nothing held it up
# (a thread that ran late, a watchdog's moment): book-outputs.t runs it
# again when not, three tries in all.
same_as_recorded() {
	masked "$2" "$recorded.out" then "$3"
	masked "$2" "$SCRATCH/now/$1.out" now "$3"
	[ "$then" = "$now" ] && cmp -s "$recorded.status" "$SCRATCH/now/$1.status"
}

diag "running book/runs on $KVM, to compare with book/outputs/$KVM/"
book/tools/record-outputs.sh "$SCRATCH/now" >/dev/null
while IFS=$'\037' read -r name command mask flags; do
	recorded=book/outputs/$KVM/$name
	if has_flag "$flags" boot && ! boots "$KVM"; then
		skip 2 "$command: boots Linux; $KVM $SLOW_KERNEL_WHY"
		continue
	fi
	if has_flag "$flags" slow && ! boots "$KVM"; then
		skip 2 "$command: runs much guest kernel code; $KVM $SLOW_KERNEL_WHY"
		continue
	fi
	if [ ! -f "$recorded.out" ]; then
		ok 1 "$command: recorded on $KVM"
		diag "$recorded.out is missing: make book-outputs"
		ok 1 "$command: its exit status as recorded"
		continue
	fi
	tries=1
	while ! same_as_recorded "$name" "$mask" "$flags" && has_flag "$flags" timed && ((tries < 3)); do
		record_one "$SCRATCH/now" "$name" "$command" "$flags"
		tries=$((tries + 1))
	done
	if [ "$then" = "$now" ]; then
		ok 0 "$command: prints what book/outputs/$KVM/$name.out shows"
		((tries == 1)) || diag "$name: as recorded on try $tries of 3 (it is flagged timed)"
	else
		ok 1 "$command: prints what book/outputs/$KVM/$name.out shows"
		((tries == 1)) || diag "$name: not as recorded in any of $tries tries (it is flagged timed)"
		if has_flag "$flags" boot || has_flag "$flags" measure; then
			diag "the lines it compares (book/runs' MASK, masked) differ now (make book-outputs records it again):"
			printf '%s' "$then" >"$SCRATCH/then" && printf '%s' "$now" >"$SCRATCH/now.txt"
			diag "$(diff -u --label recorded --label now "$SCRATCH/then" "$SCRATCH/now.txt" | head -40)"
		else
			diag "it prints something else now (make book-outputs records it again):"
			diag "$(diff -u "$recorded.out" "$SCRATCH/now/$name.out" | head -40)"
		fi
	fi
	read -r then <"$recorded.status"
	read -r now <"$SCRATCH/now/$name.status"
	is "$now" "$then" "$command: exits as recorded"
done <<<"$RUNS"

finish
