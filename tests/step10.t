#!/usr/bin/env bash
# Step 10, booting Linux: the kernel and initramfs of make linux.
#
# What needs no boot runs everywhere: the command line, and each bad
# kernel or initramfs refused with status 2 and its own message before
# any VM exists (a truncated bzImage, an ELF vmlinux, a file without the
# setup header, a protocol too old, a command line longer than the
# kernel's cmdline_size, an initramfs larger than memory or with no room
# beside the kernel).
#
# Then the boots: to /init's marker and a power-off with status 0, the
# UART found as a 16550A, kvm-clock, the e820 map, the timeline; a panic
# (no /init: rdinit=/nonexistent) is status 1 with the console's last
# lines; the watchdog stops a boot with its last lines; a command typed
# into --shell's shell is answered. They need a KVM that runs a kernel at
# the processor's speed: kvm_pvm emulates the guest kernel's every
# instruction (about 1 us each; the decompressor alone ran past 60 s
# here), so on a kvm_pvm machine they skip natively, and the lab
# (make lab CMD='prove tests/step10.t') runs them all: nothing may skip
# there.
. "$(dirname "$0")/lib.sh"
need_steps 10 10

K=build/linux/vmlinuz
I=build/linux/initramfs.cpio.gz
if [ ! -f "$K" ] || [ ! -f "$I" ]; then
	plan 1
	ok 1 "$K and $I are built (make linux; make test-prereqs does it)"
	finish
fi
plan 47

# The command line.
run ./step10 --help
is "$STATUS" 0 "--help: status 0"
like "$OUT" '^usage: step10 --kernel BZIMAGE --initrd INITRAMFS' "--help: the usage on stdout"
run ./step10 --bogus
is "$STATUS" 2 "an unknown flag: status 2"
like "$ERR" '^usage: step10 ' "... with the usage"
run ./step10 --initrd "$I"
is "$STATUS:$ERR" "2:step10: --kernel and --initrd are needed: make linux builds both, then
  ./step10 --kernel build/linux/vmlinuz --initrd build/linux/initramfs.cpio.gz" \
	"no --kernel: status 2, and how to get one"
run ./step10 --kernel "$K" --initrd "$I" --memory 32
is "$STATUS" 2 "--memory 32: status 2"
like "$ERR" 'wants a number of MiB from 64 to 3072, not "32"' "... the range"

# bad KERNEL INITRD REGEX DESCRIPTION [OPTION...]: refused, status 2.
bad() {
	local kernel=$1 initrd=$2 regex=$3 desc=$4
	shift 4
	run ./step10 --kernel "$kernel" --initrd "$initrd" "$@"
	is "$STATUS" 2 "$desc: status 2"
	like "$ERR" "$regex" "$desc: the message says so"
}

# patch IN OUT OFFSET FORMAT VALUE: OUT is IN with VALUE packed (perl's
# pack FORMAT) at byte OFFSET.
patch() {
	perl -e 'my ($in, $out, $at, $fmt, $v) = @ARGV;
		$at = hex($at) if $at =~ /^0x/;
		$v = hex($v) if $v =~ /^0x/;
		open(my $f, "<:raw", $in) or die "$in: $!\n";
		my $d = do { local $/; <$f> };
		substr($d, $at, length(pack($fmt, $v))) = pack($fmt, $v);
		open(my $o, ">:raw", $out) or die "$out: $!\n"; print $o $d' "$@"
}

head -c 3000000 "$K" >"$SCRATCH/truncated"
bad "$SCRATCH/truncated" "$I" 'truncated: the setup header promises [0-9]+ bytes' \
	"a truncated bzImage"
head -c 500 "$K" >"$SCRATCH/short"
bad "$SCRATCH/short" "$I" 'truncated or not a kernel: 500 bytes' "a bzImage cut inside its header"
bad ./step10 "$I" 'this is an ELF file \(a vmlinux\?\), not a bzImage' "an ELF file (as a vmlinux is)"
patch "$K" "$SCRATCH/no-hdrs" 0x202 a4 XXXX
bad "$SCRATCH/no-hdrs" "$I" 'not a bzImage: no "HdrS" at 0x202' "no setup header"
patch "$K" "$SCRATCH/old" 0x206 v 0x0206
bad "$SCRATCH/old" "$I" 'boot protocol 2\.06 is too old: this step needs 2\.12' "protocol 2.06"
patch "$K" "$SCRATCH/zimage" 0x211 C 0
bad "$SCRATCH/zimage" "$I" 'loadflags has no LOADED_HIGH' "a zImage (no LOADED_HIGH)"
bad "$K" "$I" "the kernel command line is too long: 2051 bytes, and this kernel's
?.*cmdline_size is 2047|too long" "a command line longer than cmdline_size" \
	--append "$(printf '%2020s' x)"
truncate -s 300M "$SCRATCH/huge.cpio"
bad "$K" "$SCRATCH/huge.cpio" 'initramfs .*huge.cpio is too large: 300 MiB, larger than the guest' \
	"an initramfs larger than memory" --memory 256
truncate -s 50M "$SCRATCH/big.cpio"
bad "$K" "$SCRATCH/big.cpio" 'the initramfs does not fit: 51200 KiB' \
	"an initramfs with no room beside the kernel" --memory 128
bad "$K" "$SCRATCH/missing" 'cannot open initramfs .*missing: No such file' "a missing initramfs"

# The boots. Where they cannot run at the processor's speed: skipped,
# saying why (never in the lab).
BOOTS=20
if linux_boot_too_slow; then
	skip $BOOTS "$WHY_TOO_SLOW; the lab boots it: make lab CMD='prove tests/step10.t'"
	finish
fi
# In the lab a boot takes about 30 s (the decompressor, 12 s of it).
TEST_TIMEOUT=400
BOOT=(./step10 --kernel "$K" --initrd "$I" --timeout 150)

run "${BOOT[@]}"
if ! unsupported 10; then
	is "$STATUS" 0 "the boot: status 0"
	like "$OUT" '^step10-init: /init reached, Linux [0-9]' "... /init's marker"
	like "$OUT" '^step10-init: serial: uart:16550A port:000003F8 irq:4' "... the UART is a 16550A, on IRQ 4"
	like "$OUT" '^step10-init: clocksource: kvm-clock' "... Linux took kvm-clock (the hypervisor bit)"
	like "$OUT" 'e820: BIOS-e820: \[mem 0x0000000000100000-0x000000000fffffff\] usable' \
		"... Linux read our e820 map: 256 MiB"
	like "$ERR" '^step10: Linux halted for good \(hlt with interrupts off\): powered off$' "... and powered off"
	like "$ERR" '^ +[0-9]+\.[0-9]{3} s  first KVM_RUN$' "the timeline: the first KVM_RUN"
	like "$ERR" '^ +[0-9]+\.[0-9]{3} s  "Linux version"$' "... \"Linux version\""
	like "$ERR" '^ +[0-9]+\.[0-9]{3} s  /init.s marker' "... /init's marker"
	like "$ERR" '^ +[0-9]+\.[0-9]{3} s  power-off \(halted for good\)$' "... the power-off"
	diag "$(printf '%s\n' "$ERR" | grep -A6 'boot timeline')"
fi

# No /init: the kernel panics, and with panic=-1 resets the machine.
run "${BOOT[@]}" --append rdinit=/nonexistent
if ! unsupported 4; then
	is "$STATUS" 1 "a kernel panic (rdinit=/nonexistent): status 1"
	like "$ERR" '^step10: the kernel panicked:$' "... says so"
	like "$ERR" '^  \[ *[0-9.]+\] Kernel panic - not syncing: ' "... with the panic's line"
	like "$ERR" '^step10: the console.s last lines:$' "... and the console's last lines"
fi

# A hang: the watchdog, with whatever the console had (nothing, this
# early: the decompressor writes nothing). 0.1 s: no KVM boots Linux to
# its power-off that fast (its XZ decompressor alone takes longer),
# where a hardware KVM may within 5 s.
run ./step10 --kernel "$K" --initrd "$I" --timeout 0.1
if ! unsupported 2; then
	is "$STATUS" 1 "--timeout 0.1: status 1"
	like "$ERR" '^step10: the console.s last lines:$' "... and the console's last lines"
fi

# The shell: a command typed on standard input is answered. Typed once
# the shell reads: bytes typed earlier can be lost (see chapter 10,
# "Typed bytes lost"; "ho answer", once, in the lab). So after /init
# says the shell starts, an empty line each 0.5 s until the shell answers
# one with a prompt ("/ # ", and the line's end echoed), then the
# command. SCRATCH/typed: step 10's stdin, a FIFO held open meanwhile.
rm -f "$SCRATCH/typed" && mkfifo "$SCRATCH/typed"
run sh -c '
	"$@" --shell <"$0/typed" >"$0/shell.out" & pid=$!
	exec 3>"$0/typed"
	until sed -n "/a shell (exit/,\$p" "$0/shell.out" | grep -q "^[~/][^ ]* # " ||
		! kill -0 "$pid" 2>/dev/null; do
		! grep -q "a shell (exit" "$0/shell.out" || printf "\n" >&3
		sleep 0.5
	done
	printf "echo answer \$((6 * 7))\nexit\n" >&3
	exec 3>&-
	wait "$pid"; status=$?
	cat "$0/shell.out"
	exit "$status"' "$SCRATCH" "${BOOT[@]}"
if ! unsupported 4; then
	is "$STATUS" 0 "--shell, a command and exit on stdin: status 0"
	like "$OUT" 'a shell \(exit, or Ctrl-D, powers off\)' "... the shell started"
	like "$OUT" '^answer 42' "... and answered the command"
	like "$OUT" 'powering off' "... then /init powered off"
fi
finish
