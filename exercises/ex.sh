#!/usr/bin/env bash
# exercises/ex.sh: builds and checks the course's exercises. The make
# targets (make exercise, hint, solution-diff, reset, exercises) call it.
#
#   exercises/ex.sh check EX            build exercises/EX and check it: PASS or FAIL
#   exercises/ex.sh hint EX             its hint (hint.md)
#   exercises/ex.sh solution-diff EX    your files against the solution
#   exercises/ex.sh reset EX            back to the starting files (yours
#                                       saved under build/ first)
#   exercises/ex.sh progress            every exercise checked, and a score
#   exercises/ex.sh list                the exercises' names
#
# For the test suite and for writing exercises and solutions:
#   exercises/ex.sh check EX --src DIR [--out DIR [--built]]
#                                       check the files in DIR (built: OUT is
#                                       up to date, skip make)
#   exercises/ex.sh start EX DIR        the starting files, made from the
#                                       current steps, into DIR
#   exercises/ex.sh starter EX DIR      the starter patch that makes DIR's
#                                       files from the steps (on stdout)
#   exercises/ex.sh sync EX             make the learner's starting files, or
#                                       bring them up to date (check does)
# EX_LEARNER_DIR=DIR: the learner's exercise folders are in DIR, not in
# exercises/ (the tests use one of their own).
#   exercises/ex.sh diff A B            the unified diff from A's files to B's
#   exercises/ex.sh prepare EX DIR      DIR/start and DIR/solved (the starting
#                                       files, and with the solution applied),
#                                       built into DIR/build-start, -solved
#
# An exercise is a directory exercises/NN-name/ with README.md (first line
# "# NN-name: Title"), hint.md, exercise.conf (what to build, see
# exercises.mk, and EX_START: where each starting file comes from),
# check.sh (a function check() using the expect_* helpers below) and
# starter.patch. The learner's files, the starting files, are made from
# the steps and guest/ by starter.patch when the learner first uses the
# exercise; they are git-ignored (see exercises/README.md). Its solution
# is solutions/NN-name.diff, applied with patch -p1 inside it.
#
# check exits 0 (PASS), 1 (FAIL, or it does not build), 77 (this host's
# KVM cannot run it: try the lab), 2 (usage) or 3 (the starting files
# cannot be made: the starter patch no longer applies to its step). Builds
# go to build/exercises/, or to a temporary directory when the repository
# is read-only (the lab).
set -eu

case ${BASH_SOURCE[0]} in
*/*) ROOT=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd) ;;
*) ROOT=$(cd .. && pwd) ;;
esac
EX_DIR=$ROOT/exercises
# Where the learner's files are, exercises/NN-name/ (the tests use their
# own, to leave the learner's alone).
LEARNER_DIR=${EX_LEARNER_DIR:-$EX_DIR}
SOL_DIR=$ROOT/solutions
EX_TIMEOUT=${EX_TIMEOUT:-60}
# run_limited, read_text, matches, indent: shared with tests/lib.sh.
# shellcheck source=tests/testlib.sh
. "$ROOT/tests/testlib.sh"

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
# relative names, sorted, each once; not the exercise's own files, the
# record of the starting files (.start/), nor editor or patch backups.
learner_files() {
	for dir in "$@"; do
		[ -d "$dir" ] && (cd "$dir" && find . -path ./.start -prune -o -type f -print |
			sed 's|^\./||')
	done | grep -vxF -e README.md -e hint.md -e check.sh -e exercise.conf \
		-e starter.patch -e .gitignore |
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

# ---------------------------------------------------------------------------
# The starting files: made from the steps (and guest/) by the starter patch

# start_entries EX: the exercise's starting files, one a line, from its
# EX_START: "FILE:ORIGIN" (the repository's ORIGIN, patched) or "FILE"
# (new: all of it in the starter patch).
start_entries() {
	local entry
	for entry in $(conf_value "$EX_DIR/$1/exercise.conf" EX_START); do
		printf '%s\n' "$entry"
	done
}

# make_start EX DEST: the exercise's starting files, made from the
# current steps, into DEST (which must not hold them yet): each origin
# copied, then starter.patch applied with --fuzz=0, so that a step change
# within a hunk's context fails here rather than applying in the wrong
# place. A patch that does not apply ends ex.sh with status 3, naming the
# exercise and the files whose hunks failed.
make_start() {
	local ex=$1 dest=$2 entry file text log line origin failed= origins=
	command -v patch >/dev/null ||
		die "the exercises' starting files are made with patch, which is missing: make deps"
	mkdir -p "$dest"
	for entry in $(start_entries "$ex"); do
		file=${entry%%:*}
		[ "$file" != "$entry" ] || continue
		[ -f "$ROOT/${entry#*:}" ] ||
			start_failed "$ex" "${entry#*:}, where $file comes from, is missing"
		read_exact "$ROOT/${entry#*:}" text
		printf '%s' "$text" >"$dest/$file"
		origins+=" ${entry#*:}"
	done
	if ! log=$(patch -p1 --fuzz=0 --forward --no-backup-if-mismatch --reject-file=- \
		-d "$dest" -i "$EX_DIR/$ex/starter.patch" 2>&1 </dev/null); then
		# "patching file F", then "Hunk #N FAILED at L." for each failed
		# hunk of F: the origins of those files, each once.
		while IFS= read -r line; do
			case $line in
			"patching file "*) file=${line#patching file } ;;
			"Hunk #"*FAILED* | *"No file to patch"* | *"already exists"*)
				origin=$(origin_of "$ex" "$file")
				case " $failed " in
				*" $origin "*) ;;
				*) failed+=" $origin" ;;
				esac ;;
			esac
		done <<<"$log"
		start_failed "$ex" "its starter patch no longer applies to${failed:-$origins}" "$log"
	fi
}

# origin_of EX FILE: where FILE of the exercise comes from (its EX_START
# origin, or the starter patch itself for a new file).
origin_of() {
	local entry
	for entry in $(start_entries "$1"); do
		if [ "${entry%%:*}" = "$2" ]; then
			[ "$entry" = "$2" ] && break
			printf '%s\n' "${entry#*:}"
			return
		fi
	done
	printf '%s\n' "exercises/$1/starter.patch"
}

# start_failed EX WHY [PATCH-OUTPUT]: the starting files of EX cannot be
# made: say why, and how an author remakes the patch; status 3.
start_failed() {
	{
		echo "ex.sh: cannot make the starting files of $1: $2."
		[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/  patch: /'
		echo "  A step changed where exercises/$1/starter.patch changes it: remake"
		echo "  the patch (exercises/README.md, \"For authors\")."
	} >&2
	exit 3
}

# start_is_recorded EX: every starting file of EX is in the learner's
# directory, and its record (.start/FILE, the file as it was made) is
# newer than the patch and the file's origin: nothing can have changed.
# Only tests of file dates, no process: most commands stop here.
start_is_recorded() {
	local dir=$LEARNER_DIR/$1 entry file
	for entry in $(start_entries "$1"); do
		file=${entry%%:*}
		[ -f "$dir/$file" ] && [ "$dir/.start/$file" -nt "$EX_DIR/$1/starter.patch" ] &&
			[ "$dir/.start/$file" -nt "$EX_DIR/$1/exercise.conf" ] || return 1
		[ "$file" = "$entry" ] || [ "$dir/.start/$file" -nt "$ROOT/${entry#*:}" ] || return 1
	done
}

# sync_start EX: the learner's files of EX made or brought up to date
# from the current steps, never losing what the learner wrote. Each file:
# missing, it is made; as it was made (equal to its record) and the
# step changed, it is updated; changed by the learner, it is kept, and
# when the step changed too, the learner is told how to take the new one.
sync_start() {
	local ex=$1 dir=$LEARNER_DIR/$1 new entry file made mine record
	start_is_recorded "$ex" && return 0
	new=$(build_dir)/$ex.start-new
	rm -rf "$new"
	make_start "$ex" "$new"
	mkdir -p "$dir/.start"
	for entry in $(start_entries "$ex"); do
		file=${entry%%:*}
		read_exact "$new/$file" made
		if [ ! -f "$dir/$file" ]; then
			printf '%s' "$made" >"$dir/$file"
		else
			read_exact "$dir/$file" mine
			record=$made
			[ ! -f "$dir/.start/$file" ] || read_exact "$dir/.start/$file" record
			if [ "$mine" = "$record" ] && [ "$mine" != "$made" ]; then
				printf '%s' "$made" >"$dir/$file"
				echo "$ex: $file updated: $(origin_of "$ex" "$file") changed, and you had not changed $file."
			elif [ "$mine" != "$record" ] && [ "$record" != "$made" ]; then
				echo "$ex: $file kept, with your changes; $(origin_of "$ex" "$file") changed since you started. make reset EX=$ex takes the new starting files (yours saved under build/ first)."
				continue
			fi
		fi
		printf '%s' "$made" >"$dir/.start/$file"
	done
	rm -rf "$new"
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

# run_program ARGS...: run the exercise's program with a time limit; its
# stdout in OUT, stderr in ERR, exit status in STATUS. Status 77 (this
# host's KVM cannot do what it needs) ends the check: SKIP, not FAIL.
run_program() {
	run_limited "$EX_TIMEOUT" "$WORK" "$PROGRAM" "$@"
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

# gdb_session [OPTION...] -- COMMAND...: a gdb session with the
# exercise's program (chapter 11: step 11's gdb stub). The program runs
# with --gdb 0 --trace-gdb OPTION... in the background; once it says its
# port, gdb runs in batch mode with the guest's symbols
# (build/guest/debug64.elf), connected to it, and runs each COMMAND, as
# tests/step11.t runs it (tcp auto-retry off, remotetimeout 1, a time
# limit). gdb's output in GDB_OUT; the program's stdout, stderr (the
# packets among it) and status in OUT, ERR and STATUS. Status 77 ends
# the check as run_program does: SKIP.
gdb_session() {
	local opts=() gdb_args=() c port= pid
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	GDB_OUT=
	if ! command -v gdb >/dev/null; then
		GDB_OUT="gdb is not installed: make deps installs it"
	fi
	: >"$WORK/stub.err"
	timeout -k 5 "$EX_TIMEOUT" "$PROGRAM" --gdb 0 --trace-gdb "${opts[@]}" \
		>"$WORK/stub.out" 2>"$WORK/stub.err" </dev/null &
	pid=$!
	for _ in $(seq 400); do
		read_text "$WORK/stub.err" ERR
		if [[ $ERR =~ waiting\ for\ gdb\ on\ 127\.0\.0\.1:([0-9]+): ]]; then
			port=${BASH_REMATCH[1]}
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if [ -n "$port" ] && [ -z "$GDB_OUT" ]; then
		gdb_args=(-ex 'set tcp auto-retry off' -ex 'set remotetimeout 1' -ex "target remote :$port")
		for c; do gdb_args+=(-ex "$c"); done
		# gdb's status says whether its last command failed: the
		# check judges what it printed instead.
		GDB_OUT=$(timeout -k 5 "$EX_TIMEOUT" gdb -q -nx -batch "${gdb_args[@]}" \
			"$ROOT/build/guest/debug64.elf" 2>&1 </dev/null) || true
	fi
	STATUS=0
	wait "$pid" || STATUS=$?
	read_text "$WORK/stub.out" OUT
	read_text "$WORK/stub.err" ERR
	if [ "$STATUS" -eq 77 ]; then
		echo "SKIP $EX: cannot run on this host's KVM (status 77):"
		indent "$ERR"
		echo "  Check it in the lab, whose KVM can: make exercise EX=$EX LAB=1"
		exit 77
	fi
}

# boot_linux_here: call before a check boots Linux (chapter 10). On a KVM
# that emulates the guest kernel's every instruction (kvm_pvm: about
# 1 us each, a boot of many minutes) the check ends here, SKIP (status
# 77), as tests/step10.t skips its boots; never in the lab. Then KERNEL
# and INITRD are make linux's, or the check FAILs saying how to make
# them (status 1 here: the caller returns).
boot_linux_here() {
	if linux_boot_too_slow; then
		echo "SKIP $EX: cannot boot Linux at speed on this host's KVM:"
		echo "  $WHY_TOO_SLOW"
		echo "  Check it in the lab, whose KVM can: make exercise EX=$EX LAB=1"
		exit 77
	fi
	KERNEL=$ROOT/build/linux/vmlinuz
	INITRD=$ROOT/build/linux/initramfs.cpio.gz
	if [ ! -f "$KERNEL" ] || [ ! -f "$INITRD" ]; then
		fail "the kernel and initramfs to boot" "build/linux/vmlinuz and build/linux/initramfs.cpio.gz" \
			"not both there: make linux builds them"
		return 1
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

# expect_line TEXT REGEX DESCRIPTION: some line of TEXT matches the
# extended regular expression.
expect_line() {
	matches "$1" "$2" || true
	if [ "$MATCHES" -gt 0 ]; then
		pass "$3"
	else
		fail "$3" "a line matching: $2" "$1"
	fi
}

# expect_no_line TEXT REGEX DESCRIPTION: no line of TEXT matches.
expect_no_line() {
	matches "$1" "$2" || true
	if [ "$MATCHES" -eq 0 ]; then
		pass "$3"
	else
		fail "$3" "no line matching: $2" "$MATCHED"
	fi
}

# expect_count TEXT REGEX N DESCRIPTION: exactly N lines of TEXT match.
expect_count() {
	local n
	matches "$1" "$2" || true
	n=$MATCHES
	if [ "$n" -eq "$3" ]; then
		pass "$4"
	else
		fail "$4" "$3 lines matching: $2" "$n such lines in:
$1"
	fi
}

# expect_equal ACTUAL EXPECTED DESCRIPTION: the same text, exactly; a
# difference of several lines is shown as a diff (of files in $WORK: the
# lab has no /dev/fd for a <(...) to name).
expect_equal() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	elif [[ $2 == *$'\n'*$'\n'*$'\n'* ]]; then
		CHECKS=$((CHECKS + 1))
		FAILED=$((FAILED + 1))
		echo "  FAIL  $3"
		echo "        difference (- expected, + actual):"
		printf '%s\n' "$2" >"$WORK/expected"
		printf '%s\n' "$1" >"$WORK/actual"
		diff -u --label expected --label actual "$WORK/expected" "$WORK/actual" |
			tail -n +3 | head -n 40 | sed 's/^/          /' || true
	else
		fail "$3" "$2" "$1"
	fi
}

# bench_figures: the figures of step 13's table in $OUT (each row's
# first word), in order, on one line (chapter 13's checks).
bench_figures() {
	printf '%s\n' "$OUT" | awk '$1 ~ /^[a-z]/ && $1 != "figure" && !/^step13:/ { print $1 }' | tr '\n' ' '
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
		EX_CONF="$EX_DIR/$1/exercise.conf" EX_SRC="$2" EX_OUT="$3" >"$log" 2>&1 || status=$?
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
	src=$LEARNER_DIR/$ex
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--src) src=$(cd "$2" && pwd); shift 2 ;;
		--out) out=$2; shift 2 ;;
		--built) built=1; shift ;;
		*) die "check: unknown option \"$1\"" ;;
		esac
	done
	if [ "$src" = "$LEARNER_DIR/$ex" ] && [ "$built" = 0 ]; then
		sync_start "$ex"
	fi
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvm-exercise.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	# The learner's build dir is for the learner's files: other files,
	# perhaps older than what was built there, get a fresh one.
	if [ -z "$out" ] && [ "$src" = "$LEARNER_DIR/$ex" ]; then
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
	host=$(conf_value "$EX_DIR/$ex/exercise.conf" EX_HOST)
	# The check runs in a subshell: run_program may end it with status 77.
	(
		EX=$ex
		PROGRAM=$out/${host%.c}
		# shellcheck source=/dev/null
		. "$EX_DIR/$ex/check.sh"
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

# hint EX: the title, then hint.md. (The hint has a file of its own,
# out of the README, which the book prints.)
cmd_hint() {
	local dir text
	dir=$(exercise_dir "$1")
	read_exact "$dir/hint.md" text
	echo "Hint for $1: $(title "$1")"
	echo
	printf '%s' "$text"
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
# starting files, made from the current steps, with the solution
# applied). Warns first when the learner's work does not pass its check.
cmd_solution_diff() {
	local ex=$1 dir=$LEARNER_DIR/$1 tmp f same=1
	exercise_dir "$ex" >/dev/null
	sync_start "$ex"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvm-solution.XXXXXX")
	trap "rm -rf '$tmp'" EXIT
	make_start "$ex" "$tmp/solution"
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

# reset EX: the starting files made anew from the current steps. What
# the learner had is kept in build/exercises/EX.saved-TIME first, in case
# it was wanted.
cmd_reset() {
	local ex=$1 dir=$LEARNER_DIR/$1 new saved f entry changed=0
	exercise_dir "$ex" >/dev/null
	mkdir -p "$dir"
	new=$(build_dir)/$ex.start-new
	rm -rf "$new"
	make_start "$ex" "$new"
	for f in $(learner_files "$dir" "$new"); do
		cmp -s "$dir/$f" "$new/$f" || changed=1
	done
	if [ "$changed" = 1 ]; then
		saved=$(build_dir)/$ex.saved-$(date +%Y%m%d-%H%M%S)
		mkdir -p "$saved"
		for f in $(learner_files "$dir"); do
			mkdir -p "$saved/$(dirname "$f")"
			cp -p "$dir/$f" "$saved/$f"
			rm -f "$dir/$f"
		done
	fi
	rm -rf "$dir/.start"
	mkdir -p "$dir/.start"
	for entry in $(start_entries "$ex"); do
		f=${entry%%:*}
		cp "$new/$f" "$dir/$f"
		cp "$new/$f" "$dir/.start/$f"
	done
	rm -rf "$new"
	if [ "$changed" = 0 ]; then
		echo "$ex is at its starting files already."
	else
		echo "$ex is back at its starting files. Your version is saved in"
		echo "  ${saved#"$ROOT"/}"
	fi
}

# progress: check every exercise (quietly) and print a table and a score.
cmd_progress() {
	local ex status result pass=0 total=0 skipped=0 log changed built=${1:-} broken=
	log=$(mktemp "${TMPDIR:-/tmp}/kvm-progress.XXXXXX")
	trap "rm -f '$log'" EXIT
	# No usable KVM here: build every exercise here, check them all in
	# one boot of the lab.
	if [ -z "$built" ] && ! guests_here; then
		WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvm-exercise.XXXXXX")
		for ex in $(list_exercises); do
			(sync_start "$ex") && build "$ex" "$LEARNER_DIR/$ex" "$(build_dir)/$ex" \
				>/dev/null 2>&1 || true
		done
		rm -rf "$WORK"
		in_lab "EX_BUILD=$(quote "$(build_dir)") exercises/ex.sh progress --built" "$(build_dir)"
		return
	fi
	printf '%-16s %-3s %-19s %s\n' EXERCISE CH RESULT TITLE
	for ex in $(list_exercises); do
		total=$((total + 1))
		status=0
		# A starter patch that no longer applies says so (stderr), and
		# its exercise is CANNOT MAKE: the others are checked still.
		if [ -z "$built" ] && ! (sync_start "$ex"); then
			status=3
		else
			(cmd_check "$ex" $built >"$log" 2>&1) || status=$?
		fi
		changed=
		if ! learner_changed "$ex"; then
			changed=" (not started)"
		fi
		case $status in
		0) result=PASS; pass=$((pass + 1)) ;;
		3) result="CANNOT MAKE"; broken+=" $ex" ;;
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
	if [ -n "$broken" ]; then
		echo "The starting files of${broken} cannot be made from the current steps (see above)."
		exit 3
	fi
}

# learner_changed EX: some starting file of EX differs from its record
# (the learner has worked on it), or has none.
learner_changed() {
	local dir=$LEARNER_DIR/$1 entry file mine record
	for entry in $(start_entries "$1"); do
		file=${entry%%:*}
		[ -f "$dir/$file" ] && [ -f "$dir/.start/$file" ] || return 0
		read_exact "$dir/$file" mine
		read_exact "$dir/.start/$file" record
		[ "$mine" = "$record" ] || return 0
	done
	return 1
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
	make_start "$ex" "$tmp/start"
	sync_tree "$tmp/start" "$dest/start"
	cp -R "$tmp/start" "$tmp/solved"
	patch -s -p1 -d "$tmp/solved" <"$SOL_DIR/$ex.diff" >/dev/null 2>&1 || true
	sync_tree "$tmp/solved" "$dest/solved"
	for which in start solved; do
		"${MAKE:-make}" --no-print-directory -C "$ROOT" exercise-build WERROR=1 \
			EX_CONF="$dir/exercise.conf" EX_SRC="$dest/$which" \
			EX_OUT="$dest/build-$which" >/dev/null 2>&1 || true
	done
}

# start EX DIR: the starting files of EX, made from the current steps,
# into DIR (new, or empty): for the tests, and to see them apart from
# the learner's.
cmd_start() {
	exercise_dir "$1" >/dev/null
	[ ! -e "$2" ] || [ -z "$(ls -A "$2")" ] || die "start: $2 is not empty"
	make_start "$1" "$2"
}

# starter EX DIR: the starter patch from the exercise's origins (the
# steps, guest/) to the starting files in DIR, on stdout: one unified
# diff per file, a new file's from /dev/null, no timestamps.
cmd_starter() {
	local ex=$1 dir=$2 entry file
	exercise_dir "$ex" >/dev/null
	for entry in $(start_entries "$ex"); do
		file=${entry%%:*}
		[ -f "$dir/$file" ] || die "starter: no $file in $dir"
		if [ "$file" = "$entry" ]; then
			diff -u --label /dev/null --label "b/$file" /dev/null "$dir/$file" || true
		else
			diff -u --label "a/$file" --label "b/$file" "$ROOT/${entry#*:}" "$dir/$file" || true
		fi
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
start) [ $# -eq 2 ] || usage; cmd_start "$1" "$2" ;;
sync) [ $# -eq 1 ] || usage; exercise_dir "$1" >/dev/null; sync_start "$1" ;;
starter) [ $# -eq 2 ] || usage; cmd_starter "$1" "$2" ;;
prepare) [ $# -eq 2 ] || usage; cmd_prepare "$1" "$2" ;;
*) usage ;;
esac
