#!/usr/bin/env bash
# The exercises (exercises/NN-name/, solutions/NN-name.diff), as CI sees
# them, on starting files made from the current steps here (exercises/ex.sh
# start), never on the learner's. For each exercise:
#   - its starting files can be made: its starter patch applies to the
#     current steps (a failure names the exercise and the step's file);
#   - its README has the title line and a check section, no hint (the
#     book prints the README), its hint.md a hint, and its starting files
#     carry TODO(NN) marks;
#   - its solution applies to the starting files (patch --dry-run);
#   - the diff from the starting files to the solved ones, regenerated,
#     equals solutions/NN-name.diff byte for byte, but for where its hunks
#     start;
#   - the starting files build and FAIL their check;
#   - the solved files PASS it.
# A check whose program exits 77 (this host's KVM cannot run it, e.g.
# chapter 6's paging outside long mode) skips natively; in the lab it
# must pass. In the lab (KVM_LAB=1) only the first and the last two,
# which depend on the KVM, are run: the others check files, the same on
# every machine, and every process is slow on the lab's emulated CPU.
# Natively, the learner's commands too (make hint, make exercises, the
# starting files following a step change), on learner folders of their
# own.
#
# make test-prereqs builds both trees of every exercise ahead, under
# build/exercises-ci/ (exercises/ex.sh prepare): where those sources equal
# the ones tested here and their build is up to date, the checks run
# those programs (the lab's emulated CPU compiles slowly); anything else
# is built under $SCRATCH, since the repository may be read-only.
. "$(dirname "$0")/lib.sh"

# Starting files and solutions must build without a warning. In the lab
# the CPU is emulated and -O2 -g costs seconds a file: build with -O0.
export WERROR=1
if [ "${KVM_LAB:-0}" = 1 ]; then
	export CFLAGS='-O0 -g0'
fi

EXERCISES=$(exercises/ex.sh list)
COUNT=$(printf '%s\n' "$EXERCISES" | grep -c .)
if [ "${KVM_LAB:-0}" = 1 ]; then
	diag "in the lab: the checks of the starting and solved files only"
	plan $((COUNT * 3))
else
	plan $((7 + COUNT * 6))
fi

# starting_files EX DEST: the exercise's starting files, made from the
# current steps into DEST. A test of its own: when the starter patch no
# longer applies, everything else about the exercise is moot.
starting_files() {
	run exercises/ex.sh start "$1" "$2"
	is "$STATUS" 0 "$1: its starting files are made from the current steps" || {
		diag "$ERR"
		return 1
	}
}

# built_ahead EX SRC OUT: OUT holds the program built from SRC's files and
# is newer than all of them, than the exercise's conf and than the shared
# guest files (what make -q would say, without running make: every
# process is slow in the lab).
built_ahead() {
	local name value program= f
	while IFS='= ' read -r name value; do
		[ "$name" = EX_HOST ] && program=$3/${value%.c}
	done <"exercises/$1/exercise.conf"
	[ -n "$program" ] && [ -x "$program" ] || return 1
	for f in "$2"/* "exercises/$1/exercise.conf" guest/*; do
		[ "$program" -nt "$f" ] || return 1
	done
}

# check_tree EX WHICH: run the check of the tree $dir/WHICH (start or
# solved), with the programs built ahead if they fit, else building.
# A check limits each program it runs (ex.sh: 60 s, 300 s for a Linux
# boot); TEST_TIMEOUT only stops a check that hangs itself: chapter 10's
# boot a check (some 40 s in the lab, more when it is busy) on top of its
# probes outlasted the 60 s default (CI, 2026-12-01).
check_tree() {
	local ex=$1 which=$2 ahead=$ROOT/build/exercises-ci/$1 TEST_TIMEOUT=600
	if diff -r -q "$dir/$which" "$ahead/$which" >/dev/null 2>&1 &&
		built_ahead "$ex" "$ahead/$which" "$ahead/build-$which"; then
		run exercises/ex.sh check "$ex" --src "$ahead/$which" --out "$ahead/build-$which" --built
	else
		run exercises/ex.sh check "$ex" --src "$dir/$which" --out "$dir/build-$which"
	fi
}

# check_skipped: after run of a check that exited 77, give lib.sh's
# unsupported the reason ex.sh printed (on stdout, after "SKIP").
check_skipped() {
	ERR=$(printf '%s\n' "$OUT" | sed -n '/^SKIP /,$p' | sed -n '2p' | sed 's/^ *//')
	unsupported 1
}

# hunks_unplaced: a unified diff on stdin, with the line numbers its
# hunks start at left out ("@@ -12,7 +12,8 @@" becomes "@@ -,7 +,8 @@").
hunks_unplaced() {
	sed -E 's/^@@ -[0-9]+(,[0-9]+)? \+[0-9]+(,[0-9]+)? @@/@@ -\1 +\2 @@/'
}

# file_tests EX: tests 1 to 3, on the files alone.
file_tests() {
	local ex=$1 chapter=${1%%-*} problems=

	# 1. The parts a learner and the book rely on.
	head -n 1 "exercises/$ex/README.md" | grep -Eq "^# $ex: [A-Z]" ||
		problems="$problems README's first line is not \"# $ex: Title\";"
	grep -q '^## What the check verifies' "exercises/$ex/README.md" ||
		problems="$problems no \"## What the check verifies\" section;"
	! grep -qi '^## Hint' "exercises/$ex/README.md" ||
		problems="$problems a hint in the README, which the book prints (hint.md has it);"
	grep -q '[a-z]' "exercises/$ex/hint.md" 2>/dev/null || problems="$problems no hint.md;"
	grep -rq "TODO($chapter)" "$dir/start" || problems="$problems no TODO($chapter) mark;"
	is "${problems:-none}" none "$ex: README (title, check, no hint), hint.md and TODO($chapter) marks"

	# 2. The solution applies to the starting files.
	run patch --dry-run -p1 -d "$dir/start" -i "$ROOT/solutions/$ex.diff"
	is "$STATUS" 0 "$ex: solutions/$ex.diff applies (patch --dry-run)"

	# 3. Regenerated from the solved files, the diff is the committed one,
	# but for where its hunks start: a step change above a hunk moves it,
	# and the solution is no less right for that.
	exercises/ex.sh diff "$dir/start" "$dir/solved" | hunks_unplaced >"$dir/regenerated.diff"
	hunks_unplaced <"solutions/$ex.diff" >"$dir/committed.diff"
	if cmp -s "$dir/regenerated.diff" "$dir/committed.diff"; then
		ok 0 "$ex: the solution diff, regenerated from the solved files, is the committed one"
	else
		ok 1 "$ex: the solution diff, regenerated from the solved files, is the committed one"
		diag "$(diff -u "$dir/committed.diff" "$dir/regenerated.diff" | head -n 30)"
	fi
}

# kvm_tests EX: tests 4 and 5, the checks, which run the programs.
kvm_tests() {
	local ex=$1

	# 4. The starting files build, and fail the check.
	check_tree "$ex" start
	if ! check_skipped; then
		if printf '%s\n' "$OUT" | grep -q "does not build"; then
			ok 1 "$ex: the starting files build and FAIL the check"
			diag "$OUT"
		else
			is "$STATUS" 1 "$ex: the starting files build and FAIL the check" ||
				diag "$OUT"
		fi
	fi

	# 5. The solved files pass it.
	check_tree "$ex" solved
	check_skipped || is "$STATUS" 0 "$ex: the solved files PASS the check" || diag "$OUT"
}

# driver_tests: the learner's commands that need no KVM (make hint, make
# exercises, and a name that is no exercise), on learner folders of the
# test's own (EX_LEARNER_DIR), never the learner's.
driver_tests() {
	export EX_LEARNER_DIR=$SCRATCH/learner
	run exercises/ex.sh check no-such-exercise
	like "$STATUS:$ERR" '^2:ex.sh: no exercise "no-such-exercise"; there are: 02-' \
		"an unknown exercise: status 2 and the list of exercises"
	run exercises/ex.sh hint 04-decimal
	like "$(printf '%s\n' "$OUT" | head -n 3 | tr '\n' '|')" \
		'^Hint for 04-decimal: Print a number in decimal\|\|Divide by ten' \
		"make hint: the title, then the README's hint section"
	EX_BUILD=$SCRATCH/progress run exercises/ex.sh progress
	is "$(printf '%s\n' "$OUT" | grep -cE '^[0-9]{2}-[a-z0-9-]+ +[0-9]{2} +(PASS|FAIL \(not started\)|lab only)')$(
		printf '%s\n' "$OUT" | grep -cE "^Score: [0-9]+ of $COUNT exercises pass\.$")" "${COUNT}1" \
		"make exercises: a row for each of the $COUNT exercises, not started, and a score"
	sync_tests
	unset EX_LEARNER_DIR
}

# sync_tests: a step change reaches a learner's file the learner has not
# touched; one the learner changed is kept, and the learner told. (The
# step change is played by the record, .start/FILE: as if the file had
# been made from an older step.)
sync_tests() {
	local learner=$EX_LEARNER_DIR/04-decimal
	EX_BUILD=$SCRATCH/sync run exercises/ex.sh reset 04-decimal
	printf '/* older */\n' >"$learner/.start/step4.c"
	cp "$learner/.start/step4.c" "$learner/step4.c"
	touch -d 2000-01-01 "$learner/.start/step4.c"
	EX_BUILD=$SCRATCH/sync run exercises/ex.sh sync 04-decimal
	is "$STATUS:$OUT:$(cmp -s "$learner/step4.c" "$learner/.start/step4.c" && echo same)" \
		"0:04-decimal: step4.c updated: steps/step4.c changed, and you had not changed step4.c.:same" \
		"a step change reaches a file the learner has not changed, and says so"
	printf '/* older */\n' >"$learner/.start/step4.c"
	printf '/* mine */\n' >"$learner/step4.c"
	touch -d 2000-01-01 "$learner/.start/step4.c"
	EX_BUILD=$SCRATCH/sync run exercises/ex.sh sync 04-decimal
	is "$STATUS:$(cat "$learner/step4.c"):${OUT%%;*}" \
		"0:/* mine */:04-decimal: step4.c kept, with your changes" \
		"a file the learner changed is kept when its step changes, and the learner told"
	rm "$learner/step4.c"
	EX_BUILD=$SCRATCH/sync run exercises/ex.sh sync 04-decimal
	is "$STATUS:$(cmp -s "$learner/step4.c" "$learner/.start/step4.c" && echo same)" "0:same" \
		"a missing starting file is made again"
	if ! git rev-parse --git-dir >/dev/null 2>&1; then
		skip 1 "not a git checkout: nothing is git-ignored"
		return
	fi
	ok "$(git check-ignore -q exercises/04-decimal/step4.c &&
		git check-ignore -q exercises/04-decimal/.start/step4.c &&
		! git check-ignore -q exercises/04-decimal/starter.patch; echo $?)" \
		"the starting files and their record are git-ignored, the starter patch is not"
}

[ "${KVM_LAB:-0}" = 1 ] || driver_tests
for ex in $EXERCISES; do
	dir=$SCRATCH/$ex
	if ! starting_files "$ex" "$dir/start"; then
		n=$([ "${KVM_LAB:-0}" = 1 ] && echo 2 || echo 5)
		for _ in $(seq "$n"); do
			ok 1 "$ex: its other tests, which need its starting files"
		done
		continue
	fi
	cp -R "$dir/start" "$dir/solved"
	patch -s -p1 -d "$dir/solved" -i "$ROOT/solutions/$ex.diff" >/dev/null 2>&1 || true
	[ "${KVM_LAB:-0}" = 1 ] || file_tests "$ex"
	kvm_tests "$ex"
done

finish
