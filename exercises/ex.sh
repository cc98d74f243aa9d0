#!/usr/bin/env bash
# exercises/ex.sh: builds and checks the course's exercises. The make
# targets (make exercise, hint, solution-diff, reset, exercises) call it.
#
#   exercises/ex.sh check EX            build exercises/EX and check it: PASS or FAIL
#   exercises/ex.sh hint EX             its README's hint section
#   exercises/ex.sh solution-diff EX    your files against the solution
#   exercises/ex.sh reset EX            back to the starting files (from git)
#   exercises/ex.sh progress            every exercise checked, and a score
#   exercises/ex.sh list                the exercises' names
#
# For the test suite and for writing solutions:
#   exercises/ex.sh check EX --src DIR [--out DIR [--built]]
#                                       check the files in DIR (built: OUT is
#                                       up to date, skip make)
#   exercises/ex.sh diff A B            the unified diff from A's files to B's
#   exercises/ex.sh prepare EX DIR      DIR/start and DIR/solved (the starting
#                                       files, and with the solution applied),
#                                       built into DIR/build-start, -solved
#
# An exercise is a directory exercises/NN-name/ with README.md (first line
# "# NN-name: Title", a "## Hint" section), exercise.conf (what to build,
# see exercises.mk), check.sh (a function check() using the expect_*
# helpers below) and the learner's files: everything else in it. Its
# solution is solutions/NN-name.diff, applied with patch -p1 inside it.
#
# check exits 0 (PASS), 1 (FAIL, or it does not build), 77 (this host's
# KVM cannot run it: try the lab) or 2 (usage). Builds go to build/exercises/,
# or to a temporary directory when the repository is read-only (the lab).
set -eu

case ${BASH_SOURCE[0]} in
*/*) ROOT=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd) ;;
*) ROOT=$(cd .. && pwd) ;;
esac
EX_DIR=$ROOT/exercises
SOL_DIR=$ROOT/solutions
EX_TIMEOUT=${EX_TIMEOUT:-60}

die() {
	printf 'ex.sh: %s\n' "$@" >&2
	exit 2
}

# ---------------------------------------------------------------------------
# Finding things

# exercise_dir EX: the directory of a known exercise, or a usage error
# that lists the known ones.
exercise_dir() {
	case $1 in
	'' | */* | .*) die "\"$1\" is not an exercise name (make exercises lists them)" ;;
	esac
	[ -f "$EX_DIR/$1/exercise.conf" ] ||
		die "no exercise \"$1\"; there are: $(list_exercises | tr '\n' ' ')"
	printf '%s\n' "$EX_DIR/$1"
}

list_exercises() {
	local conf dir
	for conf in "$EX_DIR"/*/exercise.conf; do
		dir=${conf%/exercise.conf}
		[ -f "$conf" ] && printf '%s\n' "${dir##*/}"
	done
}

# title EX: the title from the README's first line, "# NN-name: Title".
# (No sed: in the lab, whose CPU is emulated, every process costs.)
title() {
	local line=
	IFS= read -r line <"$EX_DIR/$1/README.md" || true
	line=${line#\# *: }
	printf '%s\n' "${line#"${line%%[! ]*}"}"
}

# conf_value FILE NAME: NAME's value in an exercise.conf ("NAME = value").
conf_value() {
	local name value
	while IFS='= ' read -r name value; do
		[ "$name" = "$2" ] && printf '%s\n' "$value" && return 0
	done <"$1"
	return 0
}

# learner_files DIR...: the learner's files in any of the directories,
# relative names, sorted, each once; not editor backups nor patch's.
learner_files() {
	for dir in "$@"; do
		[ -d "$dir" ] && (cd "$dir" && find . -type f | sed 's|^\./||')
	done | grep -vxF -e README.md -e check.sh -e exercise.conf |
		grep -vE '(~|\.orig|\.rej|\.swp)$' | sort -u
}

# build_dir: where builds go. build/ in the repository when we may write
# there, else a directory of our own under $TMPDIR (read-only repository).
build_dir() {
	if [ -n "${EX_BUILD:-}" ]; then
		printf '%s\n' "$EX_BUILD"
	elif mkdir -p "$ROOT/build/exercises" 2>/dev/null && [ -w "$ROOT/build/exercises" ]; then
		printf '%s\n' "$ROOT/build/exercises"
	else
		printf '%s\n' "${TMPDIR:-/tmp}/kvm-exercises-$(id -u)"
	fi
}

# pristine EX DEST: the exercise's starting files, from git's HEAD, into
# DEST. Fails when there is no git or the exercise is not committed.
pristine() {
	mkdir -p "$2"
	(cd "$ROOT" && git archive HEAD "exercises/$1" 2>/dev/null) |
		tar -x -C "$2" --strip-components=2 2>/dev/null &&
		[ -f "$2/exercise.conf" ]
}

# ---------------------------------------------------------------------------
# Where the programs run: on this machine's KVM when it is usable, else in
# the lab (lab/auto decides, as for every make command that runs a guest).

# guests_here: this machine runs the guests (lab/auto where says "here").
guests_here() {
	local status=0
	# In the lab, or told to stay: no need to ask.
	[ "${KVM_LAB:-0}" != 1 ] && [ "${LAB:-}" != 0 ] || return 0
	# Its answer on stdout; a usage error (a bad LAB=) on stderr, status 2.
	"$ROOT/lab/auto" where >/dev/null || status=$?
	[ "$status" != 2 ] || exit 2
	[ "$status" = 0 ]
}

# quote WORD: WORD as one word for bash.
quote() {
	printf '%q' "$1"
}

# in_lab COMMAND DIR...: COMMAND (ex.sh, on programs built here) in the
# lab, from the repository's root; its output and status. The lab sees
# only what lies under the repository: each DIR must.
in_lab() {
	local cmd=$1 dir
	shift
	for dir; do
		case $dir/ in
		"$ROOT"/*) ;;
		*) die "$dir is outside the repository, which is all the lab sees" ;;
		esac
	done
	"$ROOT/lab/auto" cmd "$cmd"
}

# ---------------------------------------------------------------------------
# The helpers a check.sh uses. A check runs in a subshell: CHECKS and
# FAILED count its expectations, PROGRAM is the program it built.

CHECKS=0
FAILED=0

# indent TEXT: the text shifted right, at most 15 lines of it. (Plain
# bash: in the lab, whose CPU is emulated, every process costs.)
indent() {
	local line n=0
	if [ -z "$1" ]; then
		echo "          (nothing)"
		return
	fi
	while IFS= read -r line; do
		n=$((n + 1))
		if [ "$n" -gt 15 ]; then
			echo "          ..."
			break
		fi
		printf '          %s\n' "$line"
	done <<<"$1"
}

pass() {
	CHECKS=$((CHECKS + 1))
	echo "  ok    $1"
}

# fail DESCRIPTION EXPECTED ACTUAL
fail() {
	CHECKS=$((CHECKS + 1))
	FAILED=$((FAILED + 1))
	echo "  FAIL  $1"
	echo "        expected:"
	indent "$2"
	echo "        actual:"
	indent "$3"
}

# read_file FILE VAR: the file's text into VAR, without its last newline.
read_file() {
	local text=
	IFS= read -r -d '' text <"$1" || true
	printf -v "$2" '%s' "${text%$'\n'}"
}

# run_program ARGS...: run the exercise's program with a time limit; its
# stdout in OUT, stderr in ERR, exit status in STATUS. Status 77 (this
# host's KVM cannot do what it needs) ends the check: SKIP, not FAIL.
run_program() {
	STATUS=0
	timeout -k 5 "$EX_TIMEOUT" "$PROGRAM" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null ||
		STATUS=$?
	read_file "$WORK/out" OUT
	read_file "$WORK/err" ERR
	if [ "$STATUS" -eq 77 ]; then
		echo "SKIP $EX: cannot run on this host's KVM (status 77):"
		indent "$ERR"
		echo "  Check it in the lab, whose KVM can: make exercise EX=$EX LAB=1"
		exit 77
	fi
	if [ "$STATUS" -eq 124 ] || [ "$STATUS" -eq 137 ]; then
		STATUS="$STATUS (stopped after $EX_TIMEOUT s)"
	fi
}

# expect_status N DESCRIPTION: the program exited with status N.
expect_status() {
	if [ "$STATUS" = "$1" ]; then
		pass "$2"
	else
		fail "$2" "exit status $1" "exit status $STATUS; its stderr:
$ERR"
	fi
}

# matching TEXT REGEX: the lines of TEXT that match the extended regular
# expression, in MATCHED, and how many, in MATCHES. Plain bash, as grep
# -E would match them line by line.
matching() {
	local line
	MATCHED=
	MATCHES=0
	while IFS= read -r line; do
		if [[ $line =~ $2 ]]; then
			MATCHED+=${MATCHED:+$'\n'}$line
			MATCHES=$((MATCHES + 1))
		fi
	done <<<"$1"
}

# expect_line TEXT REGEX DESCRIPTION: some line of TEXT matches the
# extended regular expression.
expect_line() {
	matching "$1" "$2"
	if [ "$MATCHES" -gt 0 ]; then
		pass "$3"
	else
		fail "$3" "a line matching: $2" "$1"
	fi
}

# expect_no_line TEXT REGEX DESCRIPTION: no line of TEXT matches.
expect_no_line() {
	matching "$1" "$2"
	if [ "$MATCHES" -eq 0 ]; then
		pass "$3"
	else
		fail "$3" "no line matching: $2" "$MATCHED"
	fi
}

# expect_count TEXT REGEX N DESCRIPTION: exactly N lines of TEXT match.
expect_count() {
	local n
	matching "$1" "$2"
	n=$MATCHES
	if [ "$n" -eq "$3" ]; then
		pass "$4"
	else
		fail "$4" "$3 lines matching: $2" "$n such lines in:
$1"
	fi
}

# expect_equal ACTUAL EXPECTED DESCRIPTION: the same text, exactly; a
# difference of several lines is shown as a diff.
expect_equal() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	elif [[ $2 == *$'\n'*$'\n'*$'\n'* ]]; then
		CHECKS=$((CHECKS + 1))
		FAILED=$((FAILED + 1))
		echo "  FAIL  $3"
		echo "        difference (- expected, + actual):"
		diff -u --label expected --label actual <(printf '%s\n' "$2") \
			<(printf '%s\n' "$1") | tail -n +3 | head -n 40 | sed 's/^/          /' || true
	else
		fail "$3" "$2" "$1"
	fi
}

# ---------------------------------------------------------------------------
# Building and checking one exercise

# build EX SRC OUT: build the exercise's files in SRC into OUT, with the
# top-level Makefile's compilers and flags. Prints the compiler's
# warnings and errors; fails if the build does.
build() {
	local log=$WORK/build.log status=0

	mkdir -p "$3"
	"${MAKE:-make}" --no-print-directory -C "$ROOT" exercise-build \
		EX_SRC="$2" EX_OUT="$3" >"$log" 2>&1 || status=$?
	# The "  CC  file" progress lines say nothing a learner needs here.
	grep -Ev '^  [A-Z0-9]+ +/|Nothing to be done' "$log" || true
	# For a check run elsewhere (the lab) with --built: it did not build.
	if [ "$status" = 0 ]; then rm -f "$3/.build-failed"; else touch "$3/.build-failed"; fi
	return "$status"
}

# check EX [--src DIR] [--out DIR] [--built]: build and check; PASS,
# FAIL or SKIP. --built: OUT is known to be up to date (the test suite
# asked make), so do not run make again.
cmd_check() {
	local ex=$1 src out= host built=0
	exercise_dir "$ex" >/dev/null
	src=$EX_DIR/$ex
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--src) src=$(cd "$2" && pwd); shift 2 ;;
		--out) out=$2; shift 2 ;;
		--built) built=1; shift ;;
		*) die "check: unknown option \"$1\"" ;;
		esac
	done
	[ -f "$src/check.sh" ] || die "no check.sh in $src"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvm-exercise.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	# The learner's build dir is for the learner's files: other files,
	# perhaps older than what was built there, get a fresh one.
	if [ -z "$out" ] && [ "$src" = "$EX_DIR/$ex" ]; then
		out=$(build_dir)/$ex
	elif [ -z "$out" ]; then
		out=$WORK/build
	fi
	mkdir -p "$out"
	[ "${out#/}" != "$out" ] || out=$PWD/$out

	echo "== $ex: $(title "$ex")"
	if { [ "$built" = 1 ] && [ -f "$out/.build-failed" ]; } ||
		{ [ "$built" = 0 ] && ! build "$ex" "$src" "$out"; }; then
		echo "FAIL $ex: it does not build (the compiler's messages are above)"
		return 1
	fi
	# Built here; run here when this machine's KVM is usable, else in the lab.
	if ! guests_here; then
		in_lab "exercises/ex.sh check $(quote "$ex") --src $(quote "$src") --out $(quote "$out") --built" \
			"$src" "$out"
		return
	fi
	host=$(conf_value "$src/exercise.conf" EX_HOST)
	# The check runs in a subshell: run_program may end it with status 77.
	(
		EX=$ex
		PROGRAM=$out/${host%.c}
		# shellcheck source=/dev/null
		. "$src/check.sh"
		check
		if [ "$FAILED" -eq 0 ]; then
			echo "PASS $ex ($CHECKS checks)"
		else
			echo "FAIL $ex: $FAILED of $CHECKS checks failed"
			exit 1
		fi
	)
}

# ---------------------------------------------------------------------------
# The other learner commands

# hint EX: the README's "## Hint" section, up to the next heading.
cmd_hint() {
	local dir
	dir=$(exercise_dir "$1")
	echo "Hint for $1: $(title "$1")"
	echo
	awk '/^## Hint/ { on = 1; next } on && /^## / { exit } on && (seen || NF) { seen = 1; print }' \
		"$dir/README.md"
}

# diff A B: the solution diff from A's learner files to B's, one unified
# diff per changed file, paths a/FILE and b/FILE, no timestamps (so the
# same trees always give the same bytes).
cmd_diff() {
	local f
	for f in $(learner_files "$1" "$2"); do
		diff -u --label "a/$f" --label "b/$f" "$1/$f" "$2/$f" || true
	done
}

# solution-diff EX: the learner's files against the solution's (the
# starting files from git with the solution applied). Warns first when
# the learner's work does not pass its check yet.
cmd_solution_diff() {
	local ex=$1 dir tmp f same=1
	dir=$(exercise_dir "$ex")
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvm-solution.XXXXXX")
	trap "rm -rf '$tmp'" EXIT
	pristine "$ex" "$tmp/solution" ||
		die "the starting files of $ex come from git, and git has none here"
	patch -s -p1 -d "$tmp/solution" <"$SOL_DIR/$ex.diff" ||
		die "solutions/$ex.diff does not apply to the starting files"

	if ! (cmd_check "$ex" >"$tmp/check.log" 2>&1); then
		echo "warning: your $ex does not pass its check yet:"
		grep -E '^(FAIL|SKIP|  FAIL)' "$tmp/check.log" | sed 's/^/  /'
		echo "  (make hint EX=$ex may be all you need; the solution follows)"
		echo
	fi
	for f in $(learner_files "$dir" "$tmp/solution"); do
		if ! cmp -s "$dir/$f" "$tmp/solution/$f"; then
			same=0
			diff -u --label "yours/$f" --label "solution/$f" \
				"$dir/$f" "$tmp/solution/$f" || true
		fi
	done
	[ "$same" = 0 ] || echo "Your files are the solution, byte for byte."
}

# reset EX: the starting files back from git. What the learner had is
# kept in build/exercises/EX.saved-TIME first, in case it was wanted.
cmd_reset() {
	local ex=$1 dir saved
	dir=$(exercise_dir "$ex")
	command -v git >/dev/null && git -C "$ROOT" cat-file -e "HEAD:exercises/$ex" 2>/dev/null ||
		die "reset takes the starting files from git, and git has none for $ex here"
	if git -C "$ROOT" diff --quiet HEAD -- "exercises/$ex"; then
		echo "$ex is at its starting files already."
		return 0
	fi
	saved=$(build_dir)/$ex.saved-$(date +%Y%m%d-%H%M%S)
	mkdir -p "$saved"
	cp -a "$dir/." "$saved/"
	git -C "$ROOT" checkout HEAD -- "exercises/$ex"
	echo "$ex is back at its starting files. Your version is saved in"
	echo "  ${saved#"$ROOT"/}"
}

# progress: check every exercise (quietly) and print a table and a score.
cmd_progress() {
	local ex status result pass=0 total=0 skipped=0 log changed built=${1:-}
	log=$(mktemp "${TMPDIR:-/tmp}/kvm-progress.XXXXXX")
	trap "rm -f '$log'" EXIT
	# No usable KVM here: build every exercise here, check them all in
	# one boot of the lab.
	if [ -z "$built" ] && ! guests_here; then
		WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvm-exercise.XXXXXX")
		for ex in $(list_exercises); do
			build "$ex" "$EX_DIR/$ex" "$(build_dir)/$ex" >/dev/null 2>&1 || true
		done
		rm -rf "$WORK"
		in_lab "EX_BUILD=$(quote "$(build_dir)") exercises/ex.sh progress --built" "$(build_dir)"
		return
	fi
	printf '%-16s %-3s %-19s %s\n' EXERCISE CH RESULT TITLE
	for ex in $(list_exercises); do
		total=$((total + 1))
		status=0
		(cmd_check "$ex" $built >"$log" 2>&1) || status=$?
		changed=
		if git -C "$ROOT" cat-file -e "HEAD:exercises/$ex" 2>/dev/null &&
			git -C "$ROOT" diff --quiet HEAD -- "exercises/$ex" 2>/dev/null; then
			changed=" (not started)"
		fi
		case $status in
		0) result=PASS; pass=$((pass + 1)) ;;
		77) result="lab only"; skipped=$((skipped + 1)) ;;
		*) result="FAIL$changed" ;;
		esac
		printf '%-16s %-3s %-19s %s\n' "$ex" "${ex%%-*}" "$result" "$(title "$ex")"
	done
	echo
	echo "Score: $pass of $total exercises pass."
	if [ "$skipped" -gt 0 ]; then
		echo "$skipped cannot run on this host's KVM (\"lab only\"): check them in the"
		echo "lab: make exercises LAB=1, or one: make exercise EX=NN-name LAB=1."
	fi
	echo "Details of one: make exercise EX=NN-name"
}

# sync_tree SRC DEST: make DEST hold exactly SRC's files, rewriting only
# those that differ, so that make sees the others as up to date.
sync_tree() {
	local f
	mkdir -p "$2"
	(cd "$2" && find . -type f | sed 's|^\./||') | while read -r f; do
		[ -f "$1/$f" ] || rm -f "$2/$f"
	done
	(cd "$1" && find . -type f | sed 's|^\./||') | while read -r f; do
		if ! cmp -s "$1/$f" "$2/$f"; then
			mkdir -p "$(dirname "$2/$f")"
			cp "$1/$f" "$2/$f"
		fi
	done
}

# prepare EX DIR: the trees tests/exercises.t checks, built ahead (make
# test-prereqs does this on the host, so that the lab, whose emulated
# CPU compiles slowly, only runs them). A build that fails is left
# unbuilt: the test then builds it itself and reports why.
cmd_prepare() {
	local ex=$1 dest=$2 dir tmp which
	dir=$(exercise_dir "$ex")
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvm-prepare.XXXXXX")
	trap "rm -rf '$tmp'" EXIT
	mkdir -p "$dest"
	dest=$(cd "$dest" && pwd)
	sync_tree "$dir" "$dest/start"
	cp -R "$dir/." "$tmp/"
	patch -s -p1 -d "$tmp" <"$SOL_DIR/$ex.diff" >/dev/null 2>&1 || true
	sync_tree "$tmp" "$dest/solved"
	for which in start solved; do
		"${MAKE:-make}" --no-print-directory -C "$ROOT" exercise-build WERROR=1 \
			EX_SRC="$dest/$which" EX_OUT="$dest/build-$which" >/dev/null 2>&1 || true
	done
}

usage() {
	sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//p;}' "$0" >&2
	exit 2
}

[ $# -ge 1 ] || usage
command=$1
shift
case $command in
check) [ $# -ge 1 ] || usage; cmd_check "$@" ;;
hint) [ $# -eq 1 ] || usage; cmd_hint "$1" ;;
solution-diff) [ $# -eq 1 ] || usage; cmd_solution_diff "$1" ;;
reset) [ $# -eq 1 ] || usage; cmd_reset "$1" ;;
progress) [ $# -eq 0 ] || [ "$*" = --built ] || usage; cmd_progress "$@" ;;
list) list_exercises ;;
diff) [ $# -eq 2 ] || usage; cmd_diff "$1" "$2" ;;
prepare) [ $# -eq 2 ] || usage; cmd_prepare "$1" "$2" ;;
*) usage ;;
esac
