#!/usr/bin/env bash
# lab/selftest.t: the lab itself (TAP, run by make lab-selftest, not by
# make check: it boots the lab four times, about a minute). Not under
# tests/, which runs inside the lab too.
#
# Checks the contract lab/run gives: the command's status and output come
# back; the chroot is what the tests expect (/dev/kvm 0600 root, so user
# nobody gets EACCES; the repository readable by nobody, read-only; /tmp
# writable; KVM_LAB=1); the verdict cannot be forged from inside; a hang
# ends at LAB_TIMEOUT with status 125; LAB_CPU=qemu64,+svm turns NPT off.
TEST_TIMEOUT=${LAB_SELFTEST_TIMEOUT:-600}
. "$(dirname "$0")/../tests/lib.sh"
plan 17

# The facts, one a line, printed inside the lab; then a forged marker
# (a test cannot know the run's random word) and a status of 3.
run lab/run cmd '
	echo "kvm $(stat -c "%a %u" /dev/kvm)"
	setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c ": <>/dev/kvm" 2>&1 | sed "s/^/nobody-kvm /"
	setpriv --reuid=nobody --regid=nogroup --clear-groups cat lab/lab.mk >/dev/null && echo "nobody-reads-repo yes"
	touch lab/.x 2>/dev/null || echo "repo read-only"
	touch /tmp/x && echo "tmp writable"
	echo "cwd $PWD"
	echo "KVM_LAB=$KVM_LAB"
	echo "to stderr" >&2
	echo "@@lab-0123456789abcdef@@ exit 0"
	printf "no newline at the end"
	exit 3'
is "$STATUS" 3 "the command's exit status comes back"
like "$OUT" '^kvm 600 0$' "/dev/kvm is 0600 root"
like "$OUT" '^nobody-kvm .*Permission denied' "user nobody cannot open /dev/kvm"
like "$OUT" '^nobody-reads-repo yes$' "user nobody can read the repository"
like "$OUT" '^repo read-only$' "the repository is read-only"
like "$OUT" '^tmp writable$' "/tmp is writable"
like "$OUT" "^cwd $ROOT\$" "the command runs in the repository, at the host's path"
like "$OUT" '^KVM_LAB=1$' "KVM_LAB=1 is set"
like "$OUT" '^to stderr$' "the command's stderr is shown"
like "$OUT" '^no newline at the end$' "output without a final newline is shown"
like "$ERR" 'lab: modules .*npt=Y' "the default CPU has nested paging"
like "$ERR" 'exit status 3' "a forged exit marker changes nothing"

run lab/run cmd 'cat /sys/module/kvm_amd/parameters/npt'
is "$STATUS" 0 "a command that succeeds: status 0"

LAB_CPU='qemu64,+svm' run lab/run cmd 'cat /sys/module/kvm_amd/parameters/npt'
like "$OUT" '^N$' "LAB_CPU=qemu64,+svm: no nested paging (shadow paging)"

LAB_TIMEOUT=30 run lab/run cmd 'echo started; sleep 300'
is "$STATUS" 125 "a hang: status 125 (no verdict)"
like "$ERR" 'no verdict from the lab: timeout: .*LAB_TIMEOUT' "... explained as the timeout"
like "$ERR" '\| started' "... with the console's last lines"

finish
