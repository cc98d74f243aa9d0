#!/usr/bin/env bash
# lab/auto, which decides where guests run (this machine's KVM, or the
# lab), and the probe behind it (lab/kvm-probe.c): the reasons it gives,
# the LAB variable, the one line and status 2 when the lab cannot run
# either, and the line after prove's summary that counts skipped tests.
# Nothing here boots the lab (lab/selftest.t does).
# lab: on the host (needs no KVM: lab/run check runs it beside the lab)
. "$(dirname "$0")/lib.sh"
plan 20

# where [VAR=VALUE...]: lab/auto where, outside the lab, LAB unset.
where() {
	run env -u LAB -u KVM_LAB "$@" lab/auto where
}

where KVM_DEVICE="$SCRATCH/none"
is "$STATUS:$OUT" "1:lab: $SCRATCH/none does not exist" "no device: the lab, and why"
where KVM_DEVICE=/dev/null
is "$STATUS:$OUT" "1:lab: /dev/null is not a KVM device" "/dev/null: not a KVM device"
mkdir "$SCRATCH/dir"
where KVM_DEVICE="$SCRATCH/dir"
like "$STATUS:$OUT" "^1:lab: $SCRATCH/dir cannot be opened: Is a directory\$" "a directory: cannot be opened, with the errno text"
: >"$SCRATCH/denied"
chmod 000 "$SCRATCH/denied"
if [ "$(id -u)" = 0 ]; then
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -u LAB -u KVM_LAB KVM_DEVICE="$SCRATCH/denied" "$ROOT/build/kvm-probe"
	OUT="lab: $OUT"
else
	where KVM_DEVICE="$SCRATCH/denied"
fi
like "$OUT" "^lab: $SCRATCH/denied cannot be opened: permission denied" "permission denied: said so"

where LAB=1 KVM_DEVICE="$SCRATCH/none"
is "$STATUS:$OUT" "1:lab: LAB=1" "LAB=1: the lab, whatever the device"
where LAB=0 KVM_DEVICE="$SCRATCH/none"
is "$STATUS:$OUT" "0:here" "LAB=0: this machine, whatever the device"
where KVM_LAB=1 KVM_DEVICE="$SCRATCH/none"
is "$STATUS:$OUT" "0:here" "inside the lab (KVM_LAB=1): always here, never a lab in the lab"
where LAB=maybe
is "$STATUS" 2 "LAB=maybe: a usage error, status 2"
like "$ERR" 'LAB=maybe: use LAB=1 .*, LAB=0 .* or leave it unset' "... that names the values"

# A usable device: the probe's own word, if this machine has one.
run env -u LAB -u KVM_LAB build/kvm-probe
if [ "$STATUS" = 0 ]; then
	like "$OUT" 'KVM API version 12, KVM_CREATE_VM works$' "this machine's device is usable: the probe says so"
	where
	is "$STATUS:$OUT" "0:here" "... and lab/auto runs guests here"
else
	like "$OUT" '.' "this machine has no usable device: the probe says why ($OUT)"
	reason=$OUT
	where
	is "$STATUS:$OUT" "1:lab: $reason" "... and lab/auto sends guests to the lab, with that reason"
fi

# Here: the command runs from the repository's root, with its status.
run env -u KVM_LAB LAB=0 lab/auto cmd 'pwd; exit 3'
is "$STATUS:$OUT" "3:$ROOT" "cmd here: run from the repository's root, its status comes back"

# No QEMU: one line naming make deps, status 2, nothing run. The PATH
# holds what lab/auto needs, and no qemu-system-x86_64.
mkdir "$SCRATCH/bin"
for tool in bash env head mktemp cat rm mkdir dirname cc timeout busybox cpio; do
	path=$(command -v "$tool") && ln -s "$path" "$SCRATCH/bin/$tool"
done
run env -u LAB -u KVM_LAB KVM_DEVICE="$SCRATCH/none" PATH="$SCRATCH/bin" "$BASH" lab/auto cmd 'echo ran'
is "$STATUS" 2 "no KVM and no QEMU: status 2"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "... one line"
like "$ERR" "^no usable KVM here \($SCRATCH/none does not exist\), and the lab cannot run: qemu-system-x86_64 not installed\. .*sudo make deps\$" \
	"... giving the probe's reason, what is missing, and make deps"
is "$OUT" "" "... and the command did not run"

# check here: prove's summary, then a line counting the skips that
# tests/lib.sh logged (a fake prove, two skips), and prove's status.
cat >"$SCRATCH/prove" <<'EOF'
#!/bin/sh
echo "Result: PASS"
echo "tests/a.t: no 32-bit paging here" >>"$KVM_SKIP_LOG"
echo "tests/a.t: no 32-bit paging here" >>"$KVM_SKIP_LOG"
exit 0
EOF
chmod +x "$SCRATCH/prove"
run env -u KVM_LAB LAB=0 PROVE="$SCRATCH/prove" lab/auto check
is "$STATUS" 0 "check here: prove's status"
like "$OUT" '^2 tests skipped: this machine.s KVM cannot run them' "... then how many tests skipped"
like "$OUT" '^make lab-check runs them in the lab' "... and that make lab-check runs them"
printf '#!/bin/sh\necho "Result: PASS"\n' >"$SCRATCH/prove"
run env -u KVM_LAB LAB=0 PROVE="$SCRATCH/prove" lab/auto check
unlike "$OUT" 'skipped' "no skips: no such line"

finish
