#!/usr/bin/env bash
# The step contract without a usable KVM device, for every step from 2 on
# (step 1: tests/step1.t). Each way has its own message, status 2, and a
# last line with the command that runs the same command line in the lab.
# lab: on the host (needs no KVM: lab/run check runs it beside the lab)
. "$(dirname "$0")/lib.sh"
need_steps 2

mkdir "$SCRATCH/dir"
KERNEL=build/linux/vmlinuz
INITRD=build/linux/initramfs.cpio.gz
printf 'not a device' >"$SCRATCH/file"
printf '\xf4' >"$SCRATCH/hlt.bin"
: >"$SCRATCH/denied"
chmod 000 "$SCRATCH/denied"

# The lab's command must give bash the same words again: the steps run
# here under a name that needs quoting (a space, a single quote, and every
# character double quotes escape), and those that take a guest file get
# one whose name needs it too.
links="$SCRATCH/my steps: it's \"a\" \$HOME \`x\` back\\slash!"
mkdir "$links"
guest="$SCRATCH/my guest's file.bin"
cp "$SCRATCH/hlt.bin" "$guest"
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1) or die "$!\n"' \
	"$SCRATCH/socket"

# no_device STEP CASE REGEX: the last run exited 2, stderr matches REGEX,
# and its last line is the lab's command for exactly the words in $argv.
no_device() {
	is "$STATUS" 2 "$1, $2: status 2"
	like "$ERR" "$3" "$1, $2: the message says so"
	lab_command_is "$1, $2: the command for the lab repeats the command line" "${argv[@]}"
}

for step in "${STEPS[@]}"; do
	ln -s "$ROOT/$step" "$links/$step"
	args=()
	[ "$step" = step2 ] || args=(--trace --guest "$guest" --timeout 5)
	# Step 10 takes a kernel and an initramfs (make linux), read before
	# it opens the device: the one with the awkward name is the
	# initramfs (step 10 looks no further than its size).
	[ "$step" != step10 ] || args=(--trace --kernel "$ROOT/$KERNEL" --initrd "$guest" --timeout 5)
	# Step 13 runs its own guest: the awkward name is its CSV file's.
	[ "$step" != step13 ] || args=(--trace --short --csv "$guest" --timeout 5)
	guest_option=--guest
	[ "$step" != step10 ] || guest_option=--append
	[ "$step" != step13 ] || guest_option=--csv

	# The plain command line first: ./stepN and a path with no quoting.
	argv=("./$step")
	[ "$step" = step2 ] || argv+=(--guest "$SCRATCH/hlt.bin")
	[ "$step" != step10 ] || argv=("./$step" --kernel "$KERNEL" --initrd "$SCRATCH/hlt.bin")
	[ "$step" != step13 ] || argv=("./$step" --csv "$SCRATCH/bench.csv")
	KVM_DEVICE=$SCRATCH/none run "${argv[@]}"
	no_device "$step" "no KVM device" 'does not exist: the kvm module is not loaded'

	# An empty argument must not vanish.
	if [ "$step" != step2 ]; then
		argv=("./$step" "$guest_option" '')
		[ "$step" != step10 ] || argv=("./$step" --kernel "$KERNEL" --initrd "$SCRATCH/hlt.bin" --append '')
		KVM_DEVICE=$SCRATCH/none run "${argv[@]}"
		no_device "$step" "no KVM device, an empty argument" 'does not exist'
	fi

	argv=("$links/$step" "${args[@]}")
	KVM_DEVICE=/dev/null run "${argv[@]}"
	no_device "$step" "/dev/null as the device" 'is not a KVM device'
	KVM_DEVICE=$SCRATCH/file run "${argv[@]}"
	no_device "$step" "a regular file as the device" 'is not a KVM device'
	KVM_DEVICE=$SCRATCH/dir run "${argv[@]}"
	no_device "$step" "a directory as the device" 'cannot open .*/dir: Is a directory'
	# A socket fails to open as a device node without a driver does.
	KVM_DEVICE=$SCRATCH/socket run "${argv[@]}"
	no_device "$step" "a device with no driver (ENXIO)" 'cannot open .*socket: No such device or address'
	run_fake_kvm api-version "${argv[@]}"
	no_device "$step" "KVM API version 11" 'speaks KVM API version 11; this program needs 12'
	run_fake_kvm create-vm "${argv[@]}"
	no_device "$step" "KVM_CREATE_VM fails" 'KVM_CREATE_VM failed: Device or resource busy'

	# Permission denied: a device node nobody may open, opened as an
	# unprivileged user if we are root (root may open anything), who
	# cannot reach $links: the step by its path in the repository.
	argv=("$ROOT/$step" "${args[@]}")
	[ "$step" != step10 ] || argv=("$ROOT/$step" --trace --kernel "$ROOT/$KERNEL" --initrd "$ROOT/$INITRD")
	[ "$step" != step13 ] || argv=("$ROOT/$step" --short --csv "$SCRATCH/bench.csv")
	if [ "$(id -u)" = 0 ]; then
		run setpriv --reuid=65534 --regid=65534 --clear-groups \
			env KVM_DEVICE="$SCRATCH/denied" "${argv[@]}"
	else
		KVM_DEVICE=$SCRATCH/denied run "${argv[@]}"
	fi
	no_device "$step" "permission denied on the device" 'Permission denied'
done

plan "$TEST_NUMBER"
finish
