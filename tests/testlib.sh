# tests/testlib.sh: what the course's two checkers share, tests/lib.sh (the
# TAP test scripts, make check) and exercises/ex.sh (the exercises'
# checks, make exercise): running a command under a time limit, reading
# its output, matching lines. Each reports in its own way on top of it
# (TAP lines; the learner's ok/FAIL), as git's t/test-lib.sh keeps the
# primitives apart from the reporting.
#
# Plain bash, no process where bash can do the work: in the lab, whose
# CPU is emulated, every process costs tens of milliseconds. Safe under
# set -e and set -u; it sets neither, and changes no directory.

# run_limited SECONDS DIR COMMAND...: run COMMAND, stdin empty, stopped
# after SECONDS (killed 5 s later if it ignores that); its stdout in OUT,
# stderr in ERR (read_text: less the final newlines), exit status in
# STATUS (124 or 137: the limit). DIR holds the two files meanwhile.
run_limited() {
	local limit=$1 dir=$2
	shift 2
	STATUS=0
	timeout -k 5 "$limit" "$@" >"$dir/out" 2>"$dir/err" </dev/null || STATUS=$?
	read_text "$dir/out" OUT
	read_text "$dir/err" ERR
}

# read_exact FILE VAR: the file's text into VAR, every byte of it (a
# text file: bash stops at a NUL), without a process; printf '%s' "$VAR"
# writes the same file again.
read_exact() {
	local read_exact_text=
	IFS= read -r -d '' read_exact_text <"$1" || true
	printf -v "$2" '%s' "$read_exact_text"
}

# read_text FILE VAR: the file's text into VAR, less its final newlines,
# as $(cat FILE) gives it, without a process.
read_text() {
	read_exact "$1" "$2"
	printf -v "$2" '%s' "${!2%"${!2##*[!$'\n']}"}"
}

# matches TEXT EXTENDED-REGEX: whether some line of TEXT matches, as grep
# -E would find it (status 0 if so); the matching lines in MATCHED, and
# how many, in MATCHES.
matches() {
	local line
	MATCHED=
	MATCHES=0
	while IFS= read -r line; do
		if [[ $line =~ $2 ]]; then
			MATCHED+=${MATCHED:+$'\n'}$line
			MATCHES=$((MATCHES + 1))
		fi
	done <<<"$1"
	[ "$MATCHES" -gt 0 ]
}

# indent TEXT: the text shifted right by ten columns, at most 15 lines of
# it (then "..."), or "(nothing)": a program's output inside a report.
indent() {
	local line n=0
	if [ -z "$1" ]; then
		echo "          (nothing)"
		return 0
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

# again_while_rate_unsure COMMAND...: run COMMAND (the checker's own way
# of running a program that runs step 9's guest: it sets ERR), and again,
# up to three times in all, while the program said its guest's tick rate
# was not judged or wrong, or its watchdog stopped a guest that was still
# exiting. The host measures the ticks by its own clock: on a loaded
# machine, where the vCPU's thread waits for a CPU, the ticks come late,
# then in a burst, and a right rate can measure wrong (step 9 says "not
# judged" when the guest saw ticks out of time). In a busy lab, where a
# tick's handler costs about a millisecond (its MMIO clock read is an
# exit to the host), the backlog KVM's PIT re-injects can outgrow a fast
# timer's guest for good: it takes tick after tick and never ends (about
# one run in four of 09-fast-timer's solution at 1000 Hz, 2026-12-01; the
# exercise now asks for 250 Hz). A wrong rate, or a guest that hangs,
# fails every time. The lines that made it run again: RATE_RETRIED.
# RATE_UNSURE_OUT, if set: an extended regex for stdout lines that are
# a reason to run again too (a check's own measure of the ticks).
again_while_rate_unsure() {
	local try
	RATE_RETRIED=
	for try in 1 2 3; do
		"$@"
		matches "$ERR" 'rate is not judged|wrong tick rate|timeout: the guest was still running after' ||
			{ [ -n "${RATE_UNSURE_OUT:-}" ] && matches "$OUT" "$RATE_UNSURE_OUT"; } || return 0
		[ "$try" = 3 ] || RATE_RETRIED+=${RATE_RETRIED:+$'\n'}"run $try: ${MATCHED%%$'\n'*}: again"
	done
}

# linux_boot_too_slow: whether this machine's KVM cannot boot Linux at
# speed, and then why, in WHY_TOO_SLOW. kvm_pvm emulates every
# instruction a guest runs in kernel mode (about 1 us each): a boot of
# step 10 takes many minutes there. Never so in the lab (KVM_LAB=1).
linux_boot_too_slow() {
	WHY_TOO_SLOW="this machine's KVM is kvm_pvm, which emulates the guest kernel (about 1 us an instruction: a boot takes many minutes)"
	[ "${KVM_LAB:-0}" != 1 ] && [ -d /sys/module/kvm_pvm ]
}
