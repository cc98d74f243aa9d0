#!/usr/bin/env bash
# Step 1, opening /dev/kvm: the capability report, and a message of its
# own and status 2 for every way the device can be missing or wrong.
. "$(dirname "$0")/lib.sh"
plan 16

run ./step1
is "$STATUS" 0 "step1 exits 0 on this machine's KVM"
like "$OUT" '^/dev/kvm: KVM API version 12$' "it reports API version 12"
like "$OUT" '^KVM_CAP_USER_MEMORY +1  guest RAM is memory we mmap' "it reports KVM_CAP_USER_MEMORY with its meaning"
like "$OUT" '^KVM_CAP_NR_MEMSLOTS +[1-9][0-9]*  ' "it reports the number of memory slots"
unlike "$OUT" 'MISSING' "no required capability is missing"

run env KVM_DEVICE="$SCRATCH/no-such-device" ./step1
is "$STATUS" 2 "a missing device: status 2"
like "$ERR" 'does not exist: the kvm module is not loaded' "... says the module may not be loaded"

run env KVM_DEVICE=/dev/null ./step1
is "$STATUS" 2 "/dev/null as the device: status 2"
like "$ERR" '/dev/null is not a KVM device: KVM_GET_API_VERSION failed' "... says it is not a KVM device"

printf 'not a device\n' >"$SCRATCH/regular-file"
run env KVM_DEVICE="$SCRATCH/regular-file" ./step1
is "$STATUS" 2 "a regular file as the device: status 2"
like "$ERR" 'is not a KVM device' "... says it is not a KVM device"

# Permission denied: run as nobody, who may not open a root-only /dev/kvm
# (the usual mode is 0660 root:kvm, here or in the lab 0600 root).
if [ "$(id -u)" -eq 0 ] && [ ! -r /dev/kvm -o "$(stat -c %a /dev/kvm)" != 666 ]; then
	chmod o+rx "$SCRATCH"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups ./step1
	is "$STATUS" 2 "as a user outside the kvm group: status 2"
	like "$ERR" 'cannot open /dev/kvm: Permission denied' "... says permission denied"
	like "$ERR" 'usermod -aG kvm' "... and how to join the group"
else
	run env KVM_DEVICE="$SCRATCH/regular-file" ./step1
	chmod 000 "$SCRATCH/regular-file"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups env KVM_DEVICE="$SCRATCH/regular-file" ./step1
	is "$STATUS" 2 "an unreadable device: status 2"
	like "$ERR" 'Permission denied' "... says permission denied"
	like "$ERR" 'usermod -aG kvm' "... and how to join the group"
fi

run ./step1 --frobnicate
is "$STATUS" 2 "an unknown option: status 2"
like "$ERR" 'unknown option "--frobnicate"' "... named in the message"

finish
