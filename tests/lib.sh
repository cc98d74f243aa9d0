# tests/lib.sh: the TAP helpers every test script sources.
#
#   . "$(dirname "$0")/lib.sh"
#   plan 3
#   run ./step4 --trace          # sets OUT, ERR, STATUS
#   is "$STATUS" 0 "step4 exits 0"
#   like "$ERR" 'KVM_EXIT_HLT' "the trace names the HLT exit"
#
# Tests run from the repository root, which may be read-only (the lab
# mounts it so): scratch files go under $SCRATCH, removed at exit.
#
# A step that exits 77 says this host's KVM cannot run it. Natively that
# is a skip with the step's own reason; in the lab (KVM_LAB=1) nothing
# may skip, so it is a failure.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$PWD
# run_limited, read_text, matches, indent: shared with exercises/ex.sh.
. tests/testlib.sh
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/kvm-tests.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

# The tests run guests where they are: a command they run never moves to
# the lab on its own (lab/auto), whatever this machine's KVM.
export LAB=0

TEST_NUMBER=0
TEST_FAILED=0
# Every command run by a test is stopped after this many seconds, so a
# hang becomes a failure rather than a stuck suite.
TEST_TIMEOUT=${TEST_TIMEOUT:-60}

PLANNED=
plan() {
	echo "1..$1"
	PLANNED=1
}

# ok CONDITION-STATUS DESCRIPTION: the primitive the others build on.
ok() {
	TEST_NUMBER=$((TEST_NUMBER + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TEST_NUMBER - $2"
	else
		echo "not ok $TEST_NUMBER - $2"
		TEST_FAILED=1
	fi
	return "$1"
}

# diag TEXT...: a comment line for the human reading the TAP output.
diag() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }

# run COMMAND...: run it with the time limit; capture stdout in OUT, stderr
# in ERR and the exit status in STATUS (124 means it hit the limit).
run() {
	run_limited "$TEST_TIMEOUT" "$SCRATCH" "$@"
}

# is ACTUAL EXPECTED DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "expected: $2" "     got: $1"
		[ -n "${ERR:-}" ] && diag "stderr was:" "$ERR"
		return 1
	fi
}

# like TEXT EXTENDED-REGEX DESCRIPTION
like() {
	if matches "$1" "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "no line matches: $2" "in:" "$1"
		return 1
	fi
}

# unlike TEXT EXTENDED-REGEX DESCRIPTION
unlike() {
	if matches "$1" "$2"; then
		ok 1 "$3"
		diag "unexpected match for: $2" "in:" "$1"
		return 1
	else
		ok 0 "$3"
	fi
}

# golden TEXT FILE DESCRIPTION: TEXT must equal tests/golden/FILE exactly.
golden() {
	if printf '%s\n' "$1" | diff -u "tests/golden/$2" - >"$SCRATCH/diff"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "differs from tests/golden/$2:"
		diag "$(cat "$SCRATCH/diff")"
		return 1
	fi
}

# skip COUNT REASON: COUNT tests skipped for REASON. make check (lab/auto)
# counts them in $KVM_SKIP_LOG, one line each, to say so after prove.
skip() {
	for _ in $(seq "$1"); do
		TEST_NUMBER=$((TEST_NUMBER + 1))
		echo "ok $TEST_NUMBER # SKIP $2"
		[ -z "${KVM_SKIP_LOG:-}" ] || echo "${0#./}: $2" >>"$KVM_SKIP_LOG"
	done
}

# unsupported COUNT: call right after run. If the step exited 77, skip the
# COUNT tests that depend on it (natively) or fail them (in the lab) and
# return 0, so the caller can write:  unsupported 4 || { ...the 4 tests... }
unsupported() {
	[ "$STATUS" -eq 77 ] || return 1
	local reason
	reason=$(printf '%s\n' "$ERR" | head -n 1)
	if [ "${KVM_LAB:-0}" = 1 ]; then
		for _ in $(seq "$1"); do
			ok 1 "skipped in the lab, where nothing may skip: $reason"
		done
	else
		skip "$1" "$reason"
	fi
	return 0
}

# ---------------------------------------------------------------------------
# The step contract's bad input (tests/contract.t, tests/hostile.t, and the
# solved exercises' programs in tests/exercises-contract.t)

# contract_check NAME CASE STATUS REGEX: the last run exited STATUS, and
# stderr matches REGEX; as TAP TODO tests (a failure shown, the suite not
# failed) if the caller's KNOWN array has "NAME:CASE" -> why, a fault
# known and waiting for a fix.
contract_check() {
	local name=$1 case=$2 status=$3 regex=$4 todo=
	[ "$(declare -p KNOWN 2>/dev/null)" = "" ] || todo=${KNOWN[$1:$2]:-}
	# A program that finds this host's KVM unable to run it may say so
	# (77) before it looks at its guest file: a skip (a failure in the lab).
	if [ "$status" != 77 ] && unsupported 2; then return 0; fi
	if [ -n "$todo" ]; then
		local got=0
		[ "$STATUS" = "$status" ] && printf '%s\n' "$ERR" | grep -Eq -- "$regex" || got=1
		TEST_NUMBER=$((TEST_NUMBER + 1))
		echo "$([ $got = 0 ] || echo 'not ')ok $TEST_NUMBER - $name, $case: status $status, /$regex/ # TODO $todo"
		return 0
	fi
	is "$STATUS" "$status" "$name, $case: status $status"
	like "$ERR" "$regex" "$name, $case: the message says so"
}

# make_guest_files SIZE: the bad guest files bad_guest_files runs, under
# $SCRATCH: a directory, an empty file, one of SIZE (truncate's), a FIFO.
make_guest_files() {
	mkdir "$SCRATCH/dir"
	: >"$SCRATCH/empty.bin"
	truncate -s "$1" "$SCRATCH/huge.bin"
	mkfifo "$SCRATCH/fifo"
}

# bad_guest_files NAME COMMAND...: COMMAND --guest each bad file of
# make_guest_files, and a missing one: each refused with status 2 and its
# message (contract_check), before any guest runs.
bad_guest_files() {
	local name=$1
	shift
	run "$@" --guest "$SCRATCH/missing.bin"
	contract_check "$name" "a missing guest file" 2 'cannot open guest file .*missing.bin: No such file'
	run "$@" --guest "$SCRATCH/dir"
	contract_check "$name" "a directory as the guest file" 2 'is a directory'
	run "$@" --guest "$SCRATCH/empty.bin"
	contract_check "$name" "an empty guest file" 2 'is empty'
	run "$@" --guest "$SCRATCH/huge.bin"
	contract_check "$name" "a guest file larger than guest memory" 2 'too large'
	# A FIFO with no writer: opening it must not wait for one.
	TEST_TIMEOUT=2 run "$@" --guest "$SCRATCH/fifo"
	contract_check "$name" "a FIFO as the guest file" 2 'not a regular file'
}

# bad_linux_files NAME COMMAND...: a program that boots Linux (step 10,
# and its exercises' programs) has no --guest: it takes a kernel and an
# initramfs (make linux's), each refused as a guest file is when it
# cannot be one: missing, a directory, empty, a FIFO; and each option
# without its value. Status 2 and the message (contract_check), before
# any VM. (The bzImage's and initramfs's own checks: tests/step10.t.)
bad_linux_files() {
	local name=$1 opt file kernel=build/linux/vmlinuz initrd=build/linux/initramfs.cpio.gz
	shift
	for opt in --kernel --initrd --append --memory; do
		run "$@" "$opt"
		contract_check "$name" "$opt without a value" 2 "$opt needs a value"
	done
	for opt in kernel initramfs; do
		for file in missing.bin:'No such file' dir:'is a directory' empty.bin:'is empty' \
			fifo:'is not a regular file'; do
			if [ $opt = kernel ]; then
				TEST_TIMEOUT=2 run "$@" --kernel "$SCRATCH/${file%%:*}" --initrd "$initrd"
			else
				TEST_TIMEOUT=2 run "$@" --kernel "$kernel" --initrd "$SCRATCH/${file%%:*}"
			fi
			contract_check "$name" "$opt ${file%%:*}" 2 "$opt .*${file%%:*}.*: ?${file#*:}|$opt .*${file%%:*} ${file#*:}"
		done
	done
}

# bad_bench_options NAME COMMAND...: step 13 (and its exercises'
# programs) runs its own guest and has no --guest; its own options
# without their values, a figure it does not have, a CSV file it cannot
# write: status 2 and the message (contract_check).
bad_bench_options() {
	local name=$1
	shift
	run "$@" --guest "$SCRATCH/missing.bin"
	contract_check "$name" "--guest (it runs its own guest)" 2 'unknown option "--guest"'
	run "$@" --csv
	contract_check "$name" "--csv without a value" 2 '--csv needs a value'
	run "$@" --only
	contract_check "$name" "--only without a value" 2 '--only needs a value'
	run "$@" --only nosuch
	contract_check "$name" "--only with no such figure" 2 '--only: no figure is called "nosuch"'
	run "$@" --only cpuid --short --csv "$SCRATCH/no/such/folder/b.csv"
	contract_check "$name" "--csv in a folder that does not exist" 2 'cannot write .*/no/such/folder/b.csv: No such file'
}

# The hostile guests (tests/hostile.mk builds them), the watchdog each run
# gets, and how long past it a run may take in all (starting the process
# and the VM; the lab is slow). The endings a step reports on stderr:
H=build/tests/hostile
G=build/tests/guests
WATCHDOG=0.5
LIMIT_MS=5500
TIMEOUT='timeout: the guest was still running'
SHUTDOWN='stopped: KVM_EXIT_SHUTDOWN'
INTERNAL='stopped: KVM_EXIT_INTERNAL_ERROR'

# run_quiet COMMAND...: run without keeping stdout, where a hostile
# guest's floods go (up to megabytes of them, NUL bytes included).
run_quiet() {
	timeout -k 5 "$TEST_TIMEOUT" "$@" >/dev/null 2>"$SCRATCH/err" </dev/null
	STATUS=$?
	OUT=
	read_text "$SCRATCH/err" ERR
}

# hostile "PROGRAM [OPTION...]" GUEST REASON [DETAIL]: run the guest (a
# .bin under build/) through PROGRAM (a bare name is ./NAME, a step) and
# check the ending: status 1, never a signal or a hang; REASON and DETAIL
# (regular expressions) on stderr; within the watchdog's time.
hostile() {
	local -a cmd=($1)
	local program=${cmd[0]} guest=$2 reason=$3 detail=${4:-} start elapsed
	local name="$1 ${guest##*/}"

	[[ $program == */* ]] || program=./$program
	start=${EPOCHREALTIME/./}
	run_quiet "$program" "${cmd[@]:1}" --guest "$guest" --timeout "$WATCHDOG"
	elapsed=$(((${EPOCHREALTIME/./} - start) / 1000))
	if unsupported 1; then return 0; fi
	is "$STATUS" 1 "$name: status 1" || return 0
	like "$ERR" "$reason" "$name: $reason"
	[ -z "$detail" ] || like "$ERR" "$detail" "$name: $detail"
	ok "$((elapsed >= LIMIT_MS))" \
		"$name: ended in $elapsed ms (watchdog $WATCHDOG s, limit $LIMIT_MS ms)"
}

# finish: end of script; the exit status tells prove about failures.
finish() { exit "$TEST_FAILED"; }

# need_steps FIRST [LAST]: call before plan. The script runs ./stepN for
# every step from FIRST to LAST (default: the last there is), the steps
# being what steps/stepN.c says there are, not what happens to be built.
# Sets STEPS to their names in order (step3 step4 ...). A step that is not
# built ends the script there with one failed test that names it: its
# tests would otherwise be left out without a word, or fail for a reason
# that is not theirs.
need_steps() {
	local first=$1 last=${2:-} src n missing=
	local -a have=()
	STEPS=()
	for src in steps/step*.c; do
		n=${src#steps/step}
		n=${n%.c}
		[[ $n =~ ^[1-9][0-9]*$ ]] && have[n]=1
	done
	# An indexed array's indices come in numeric order.
	for n in "${!have[@]}"; do
		((n >= first)) && { [ -z "$last" ] || ((n <= last)); } || continue
		STEPS+=("step$n")
		[ -x "./step$n" ] || missing="$missing ./step$n"
	done
	[ -n "$missing" ] || [ ${#STEPS[@]} = 0 ] || return 0
	[ -n "$PLANNED" ] || plan 1
	if [ -n "$missing" ]; then
		ok 1 "the steps this script runs are built"
		diag "not built:$missing (steps/ has their sources): make all builds them"
	else
		ok 1 "the steps this script runs exist"
		diag "no steps/stepN.c from step $first${last:+ to step $last}"
	fi
	exit 1
}

# How a step that finds no usable KVM device ends its message: this, then
# the command that runs the same command line in the lab.
LAB_HINT='  Run it in the lab instead (QEMU, no KVM needed here): '

# lab_command_words LINE: LINE must be the lab hint with a "make lab
# CMD='...'" command. Prints the words bash finds in CMD's value, as the
# lab runs it, each quoted with printf %q (or what is wrong instead).
lab_command_words() (
	local line=$1 cmd=
	case $line in
	"$LAB_HINT"'make lab CMD='*) ;;
	*) echo "(not the lab hint: $line)"; exit 0 ;;
	esac
	# Read the make command as a shell would, with a make of our own
	# that only keeps CMD's value.
	make() {
		if [ $# = 2 ] && [ "$1" = lab ] && [ "${2%%=*}" = CMD ]; then
			cmd=${2#CMD=}
		else
			echo "(not make lab CMD=...: $*)"
			exit 0
		fi
	}
	eval "${line#"$LAB_HINT"}"
	if [ -z "$cmd" ]; then
		echo "(no command in: $line)"
		exit 0
	fi
	set --
	if ! eval "set -- $cmd"; then
		echo "(bash cannot read CMD: $cmd)"
		exit 0
	fi
	printf '%q ' "$@"
)

# lab_command_is DESCRIPTION WORD...: the last run's stderr ends with the
# lab hint, and its command runs exactly WORD... (the step's argv).
lab_command_is() {
	local desc=$1
	shift
	is "$(lab_command_words "$(printf '%s\n' "$ERR" | tail -n 1)")" \
		"$(printf '%q ' "$@")" "$desc"
}

# run_fake_kvm MODE COMMAND...: run with tests/fakekvm.c's MODE. For
# api-version and create-vm, KVM_DEVICE=/dev/null answers like a KVM that
# fails so; for no-irqchip (a KVM without KVM_CAP_IRQCHIP), max-vcpus-2
# and no-mp-state (step 12's limits), no-ioeventfd and no-immediate-exit
# (step 13's), shutdown-reset and shutdown-keep,
# this machine's KVM runs
# the guest, and after a triple fault the vCPU is reset (as AMD's KVM
# does) or keeps its registers (as Intel's does; FAKE_KVM_CR2=ADDRESS in
# the environment gives CR2). A SANITIZE=1 step refuses a library
# preloaded before ASan's runtime unless ASAN_OPTIONS allows it.
run_fake_kvm() {
	local mode=$1 device=/dev/null
	shift
	if [ ! -f "$ROOT/build/tests/fakekvm.so" ]; then
		diag "build/tests/fakekvm.so is missing: make test-prereqs"
	fi
	case $mode in shutdown-* | no-irqchip | max-vcpus-2 | no-mp-state | no-ioeventfd | no-immediate-exit)
		device=${KVM_DEVICE:-/dev/kvm} ;;
	esac
	run env LD_PRELOAD="$ROOT/build/tests/fakekvm.so" FAKE_KVM="$mode" KVM_DEVICE="$device" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
