#!/usr/bin/env bash
# lab/selftest.t: the lab itself (TAP, run by make lab-selftest, not by
# make check: it boots the lab about ten times, a few minutes). Not under
# tests/, which runs inside the lab too.
#
# Checks the contract lab/run gives: the command's status and output come
# back; the chroot is what the tests expect (/dev/kvm 0600 root, so user
# nobody gets EACCES; the repository readable by nobody, read-only; /tmp
# writable; KVM_LAB=1); the verdict cannot be forged from inside; a hang
# ends at LAB_TIMEOUT with status 125; a frozen machine is ended and run
# again, a quiet one left alone; LAB_CPU=qemu64,+svm turns NPT off.
# The kernel: this machine's own when readable (tested on a fake host
# layout unpacked from Debian's package), else Debian's. And the make
# commands on a machine without a usable /dev/kvm: they run in the lab.
TEST_TIMEOUT=${LAB_SELFTEST_TIMEOUT:-600}
. "$(dirname "$0")/../tests/lib.sh"
plan 54

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

LAB_MIN_TIMER_US=2000 run lab/run cmd 'cat /sys/module/kvm/parameters/min_timer_period_us'
like "$OUT" '^2000$' "LAB_MIN_TIMER_US sets kvm's min_timer_period_us"
like "$ERR" 'lab: modules .*min_timer_period_us=2000' "the modules line shows it"

LAB_CPU='qemu64,+svm' run lab/run cmd 'cat /sys/module/kvm_amd/parameters/npt'
like "$OUT" '^N$' "LAB_CPU=qemu64,+svm: no nested paging (shadow paging)"

LAB_TIMEOUT=30 run lab/run cmd 'echo started; sleep 300'
is "$STATUS" 125 "a hang: status 125 (no verdict)"
like "$ERR" 'no verdict from the lab: timeout: .*LAB_TIMEOUT' "... explained as the timeout"
like "$ERR" '\| started' "... with the console's last lines"

# A QEMU that dies at once and prints nothing: status 125, said so, and
# no console to show.
mkdir -p "$SCRATCH/silent-qemu"
printf '#!/bin/sh\nexit 1\n' >"$SCRATCH/silent-qemu/qemu-system-x86_64"
chmod +x "$SCRATCH/silent-qemu/qemu-system-x86_64"
PATH="$SCRATCH/silent-qemu:$PATH" run lab/run cmd true
is "$STATUS" 125 "a QEMU that dies silently: status 125 (no verdict)"
like "$ERR" 'QEMU exited with status 1 before the command ended' "... with QEMU's status"
like "$ERR" 'the console printed nothing' "... and says the console printed nothing"

# A machine that freezes (suspended to idle: its heartbeat stops, as in
# the freezes QEMU's emulation gave us) is ended after LAB_FREEZE_TIMEOUT
# and its command run once more; one that is only quiet is left alone.
LAB_FREEZE_TIMEOUT=15 run lab/run cmd 'sleep 40; echo awake'
is "$STATUS:$OUT" "0:awake" "a quiet machine (sleep 40, LAB_FREEZE_TIMEOUT=15) is not taken for frozen"
unlike "$ERR" 'froze' "... and nothing says it froze"
rm -f "$ROOT/build/lab/froze-console.log"
LAB_FREEZE_TIMEOUT=15 run lab/run cmd 'echo going to sleep; echo freeze >/sys/power/state; echo woke up'
is "$STATUS" 125 "a machine that freezes three times: status 125"
like "$ERR" '^lab: machine 1 froze \(frozen: no heartbeat from the lab.s kernel for 15 s .*\); running its command again on a new machine$' \
	"... the first freeze is named, and the command runs again"
is "$(printf '%s\n' "$ERR" | grep -c '^lab: machine 1 froze ')" 2 "... and runs twice again"
like "$ERR" 'no verdict from the lab: frozen: ' "... the third ends the run, explained as a freeze"
like "$(cat "$ROOT/build/lab/froze-console.log" 2>/dev/null)" 'going to sleep' "... the first machine's console is kept"
like "$(cat "$ROOT/build/lab/froze-qemu-threads.txt" 2>/dev/null)" ' qemu-system-x86 state [A-Z] wchan ' \
	"... and what QEMU's threads were doing"
like "$(cat "$ROOT/build/lab/froze-qemu-threads.txt" 2>/dev/null)" '^Timer	 DCR=' "... and its local APIC's timer, from QEMU's monitor"
like "$(cat "$ROOT/build/lab/froze-qemu-threads.txt" 2>/dev/null)" '^VM status: running$' \
	"... and QEMU's word that it still ran (suspended by its kernel, not paused)"

# A test run that freezes after one script passed: only the rest runs
# again. freeze-once.t suspends the machine while its flag file is there;
# this script removes the flag when the freeze is seen, so the second
# machine runs it to the end.
sdir=$ROOT/build/selftest
mkdir -p "$sdir"
printf '#!/bin/sh\necho 1..1\necho ok 1 - passes\n' >"$sdir/pass.t"
printf '#!/bin/sh\necho 1..1\n[ ! -e %s ] || echo freeze >/sys/power/state\necho ok 1 - woke, or never slept\n' \
	"build/selftest/freeze-flag" >"$sdir/freeze-once.t"
chmod +x "$sdir/pass.t" "$sdir/freeze-once.t"
touch "$sdir/freeze-flag"
rm -f "$ROOT/build/lab/froze-console.log"
(for _ in $(seq 1500); do
	[ ! -e "$ROOT/build/lab/froze-console.log" ] || { rm -f "$sdir/freeze-flag"; break; }
	sleep 0.2
done) &
LAB_JOBS=1 LAB_FREEZE_TIMEOUT=15 LAB_TESTS='build/selftest/pass.t build/selftest/freeze-once.t' run lab/run check
wait
is "$STATUS" 0 "a test run whose machine froze once: status 0"
like "$ERR" '^lab: machine 1 froze \(frozen: .*\); running the test scripts that had not passed \(build/selftest/freeze-once\.t\) again on a new machine$' \
	"... the script that had passed is not run again"
is "$(printf '%s\n' "$OUT" | grep -c 'pass\.t \.* ok')" 1 "... it passed once, on the first machine"
like "$OUT" 'freeze-once\.t \.* ok' "... and the other passed on the second"
like "$OUT" '^\(and not counted above: passed on machine 1 before it froze, not run again: build/selftest/pass\.t\)$' \
	"... the summary names the script that passed before the freeze"
like "$ERR" 'lab-check: PASS in .*ran again after a freeze: machine 1' "... and the closing line the freeze"
rm -rf "$sdir"

# The host-kernel path, as on a distribution without Debian's kernel
# package: a fake host layout (boot/vmlinuz-RELEASE, lib/modules/RELEASE)
# unpacked once from Debian's package into build/lab/fakehost.
fake=$ROOT/build/lab/fakehost
if [ ! -f "$fake/ready" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	mkdir -p "$SCRATCH/deb" "$fake"
	(cd "$SCRATCH/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null 2>&1) &&
		dpkg-deb --fsys-tarfile "$SCRATCH"/deb/*.deb |
		tar -x -C "$fake" --wildcards './boot/vmlinuz-*' './lib/modules/*' &&
		touch "$fake/ready"
fi
release=$(ls "$fake/lib/modules" 2>/dev/null | head -n 1)
LAB_KERNEL=host LAB_HOST_ROOT=$fake LAB_HOST_RELEASE=$release run lab/run cmd 'uname -r'
is "$STATUS:$OUT" "0:$release" "LAB_KERNEL=host on a fake host layout: the lab boots that kernel"
like "$ERR" "^lab: kernel .* host kernel $release \\(([0-9]+ modules, boots vmlinu[xz]|cached)\\)" \
	"... which the progress line names as the host's"
LAB_HOST_ROOT=$SCRATCH/nothing run lab/run cmd 'uname -r'
is "$STATUS" 0 "no readable host kernel: the lab still runs"
like "$ERR" '^lab: kernel .*linux-image-' "... on Debian's kernel package"
LAB_KERNEL=host LAB_HOST_ROOT=$SCRATCH/nothing run lab/run cmd 'uname -r'
is "$STATUS" 125 "LAB_KERNEL=host without a readable host kernel: status 125"
like "$ERR" 'LAB_KERNEL=host: the host kernel cannot serve: .*boot/vmlinuz-.* is not readable' "... saying why"

# The make commands without a usable /dev/kvm: one line, then the lab.
# (tests/lib.sh sets LAB=0 for the suite; these want the automatic choice.)
TEST_TIMEOUT=600
KVM_DEVICE=$SCRATCH/none run env -u LAB make --no-print-directory run
is "$STATUS" 0 "make run without a usable device: status 0"
# (make linux, a prerequisite of make run, asks lab/run for the kernel
# first: its "lab: kernel" line comes before lab/auto's.)
like "$(printf '%s\n' "$ERR" | grep -v '^lab: kernel ' | head -n 1)" "^no usable KVM here \\($SCRATCH/none does not exist\\): running in the lab" \
	"... lab/auto's first line says why, and that the lab runs it"
like "$OUT" '^===== step7 =====$' "... every step ran, to step 7"
like "$OUT" 'step7: .*42' "... and step 7's guest gave its 42s"
unlike "$OUT" 'failed with status' "... none failed"

KVM_DEVICE=$SCRATCH/none run env -u LAB exercises/ex.sh check 04-counter
like "$ERR" '^no usable KVM here .*running in the lab' "make exercise without a usable device: checked in the lab"
like "$OUT" '^(PASS|FAIL) 04-counter' "... with the check's verdict"
like "$ERR" 'lab: modules .*kvm_amd' "... which booted the lab"

KVM_DEVICE=$SCRATCH/none run env -u LAB lab/run tty 'echo from the terminal command'
is "$STATUS" 0 "lab/run tty (make debug-stepN's way in): status 0"
like "$OUT" 'from the terminal command' "... and the command ran on the console"

finish
