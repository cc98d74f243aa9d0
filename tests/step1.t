#!/usr/bin/env bash
# Step 1, opening /dev/kvm: the capability report, and a message of its
# own and status 2 for every way the device can be missing or wrong, each
# ending with the command that runs the same command line in the lab.
. "$(dirname "$0")/lib.sh"
need_steps 1 1
plan 34

run ./step1
is "$STATUS" 0 "step1 exits 0 on this machine's KVM"
like "$OUT" '^/dev/kvm: KVM API version 12$' "it reports API version 12"
like "$OUT" '^KVM_CAP_USER_MEMORY +1  guest RAM is memory we mmap' "it reports KVM_CAP_USER_MEMORY with its meaning"
like "$OUT" '^KVM_CAP_NR_MEMSLOTS +[1-9][0-9]*  ' "it reports the number of memory slots"
unlike "$OUT" 'MISSING' "no required capability is missing"

run env KVM_DEVICE="$SCRATCH/no-such-device" ./step1
is "$STATUS" 2 "a missing device: status 2"
like "$ERR" 'does not exist: the kvm module is not loaded' "... says the module may not be loaded"
is "$(printf '%s\n' "$ERR" | tail -n 1)" "${LAB_HINT}make lab CMD='./step1'" \
	"... and ends with the command for the lab, exactly"

run env KVM_DEVICE=/dev/null ./step1
is "$STATUS" 2 "/dev/null as the device: status 2"
like "$ERR" '/dev/null is not a KVM device: KVM_GET_API_VERSION failed' "... says it is not a KVM device"
lab_command_is "... and ends with the command for the lab" ./step1

printf 'not a device\n' >"$SCRATCH/regular-file"
run env KVM_DEVICE="$SCRATCH/regular-file" ./step1
is "$STATUS" 2 "a regular file as the device: status 2"
like "$ERR" 'is not a KVM device' "... says it is not a KVM device"
lab_command_is "... and ends with the command for the lab" ./step1

# ENXIO: opening a socket fails as a device node with no driver does.
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1) or die "$!\n"' \
	"$SCRATCH/socket"
run env KVM_DEVICE="$SCRATCH/socket" ./step1
is "$STATUS" 2 "a device with no driver (ENXIO): status 2"
like "$ERR" 'No such device or address' "... says so"
like "$ERR" 'The module is loaded but found no usable' "... and what that means"
lab_command_is "... and ends with the command for the lab" ./step1

mkdir "$SCRATCH/dir"
run env KVM_DEVICE="$SCRATCH/dir" ./step1
is "$STATUS" 2 "a directory as the device: status 2"
like "$ERR" 'cannot open .*/dir: Is a directory' "... says it cannot open it, and why"
lab_command_is "... and ends with the command for the lab" ./step1

run_fake_kvm api-version ./step1
is "$STATUS" 2 "a KVM with API version 11: status 2"
like "$ERR" 'speaks KVM API version 11; this program needs 12' "... says which version it needs"
lab_command_is "... and ends with the command for the lab" ./step1

# The command for the lab repeats the step's own name as given: run it
# through paths that need quoting, one with a space, one with a single
# quote and every character double quotes must escape.
for dir in "$SCRATCH/my steps" "$SCRATCH/it's \"a\" \$HOME \`x\` back\\slash!"; do
	mkdir "$dir"
	ln -s "$ROOT/step1" "$dir/step1"
	run env KVM_DEVICE="$SCRATCH/no-such-device" "$dir/step1"
	is "$STATUS" 2 "run as ${dir#"$SCRATCH/"}/step1, no device: status 2"
	lab_command_is "... and the command for the lab names it as given" "$dir/step1"
done

# Permission denied: run as nobody, who may not open a root-only /dev/kvm
# (the usual mode is 0660 root:kvm, here or in the lab 0600 root).
if [ "$(id -u)" -eq 0 ] && [ ! -r /dev/kvm -o "$(stat -c %a /dev/kvm)" != 666 ]; then
	chmod o+rx "$SCRATCH"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups ./step1
	is "$STATUS" 2 "as a user outside the kvm group: status 2"
	like "$ERR" 'cannot open /dev/kvm: Permission denied' "... says permission denied"
	like "$ERR" 'usermod -aG kvm' "... and how to join the group"
else
	chmod 000 "$SCRATCH/regular-file"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups env KVM_DEVICE="$SCRATCH/regular-file" ./step1
	is "$STATUS" 2 "an unreadable device: status 2"
	like "$ERR" 'Permission denied' "... says permission denied"
	like "$ERR" 'usermod -aG kvm' "... and how to join the group"
fi
lab_command_is "... and ends with the command for the lab" ./step1

run ./step1 --frobnicate
is "$STATUS" 2 "an unknown option: status 2"
like "$ERR" 'unknown option "--frobnicate"' "... named in the message"

finish
