#!/usr/bin/env bash
# The solved exercises keep the step contract: each solved exercise's
# program (exercises/NN-name with solutions/NN-name.diff applied, built
# as tests/exercises.t builds it) is given the bad input of
# tests/contract.t (--guest files missing, empty, too large, a FIFO, a
# directory; an unknown flag), each refused with status 2 and its
# message; a guest of 1.5 MiB of hlt, more than some have room for, run
# (status 0) or refused as too large (2); and a few hostile guests of its mode (tests/hostile.t), each
# ending with status 1 and a timeout or a named exit (or, step 8's
# device poke, the exit code it writes), within the watchdog's time: never a signal, never a hang. 77 (this host's KVM
# cannot run it: chapter 6 on kvm_pvm) skips natively and fails in the
# lab. Chapter 10's programs boot Linux and take no --guest: theirs is
# step 10's contract (tests/contract.t), the unknown flag and the bad
# kernel and initramfs files, no guest of ours. Chapter 13's measure
# with their own guest and take no --guest: their options are checked.
#
# Natively the programs are brought up to date first (exercises/ex.sh
# prepare, as make test-prereqs does); in the lab, whose repository is
# read-only and whose CPU compiles slowly, the ones make test-prereqs built.
. "$(dirname "$0")/lib.sh"

# Each exercise's mode: how its program runs a guest file, which decides
# the hostile guests it gets. real: 16-bit at 0x1000 (steps 3 and 4, and
# step 5 with --boot); protected: 32-bit (steps 5 and 6); long: step 7;
# devices: step 8, long mode with its UART and sysregs; interrupts: step
# 9, the same devices with the PIC, the PIT and the UART's interrupt;
# linux: step 10, a kernel and an initramfs instead of a guest. Chapter
# 11's are step 11's, step 7's long-mode machine: long. smp: step 12,
# step 9's machine on several vCPUs (the guest on the first, and two
# that start another one wrong). bench: step 13, which runs its own guest
# and takes no --guest: its options refused, each with its message.
declare -A MODE=(
	[02-rom]=real [02-screen]=real [03-gdb-regs]=real [03-single-step]=real
	[04-counter]=real [04-decimal]=real [05-boot-pm]="real --boot"
	[05-relocate]=protected [06-alias]=protected [06-readonly]=protected
	[07-exit-stats]=long [07-high-only]=long
	[08-com2]=devices [08-uptime]=devices
	[09-fast-timer]=interrupts [09-menu]=interrupts
	[10-high-memory]=linux [10-cpu-name]=linux
	[11-monitor]=long [11-watchpoint]=long
	[12-exit-counts]=smp [12-barrier]=smp
	[13-mmio-read]=bench [13-rep-insb]=bench
)

# How a hostile guest's run may end: the step's two ways, a timeout or a
# named exit (exercises change which exits a program handles, so which one
# is not asked).
ENDED="$TIMEOUT|stopped: KVM_EXIT_[A-Z_]+"

# Per mode: a loop (the watchdog ends it), a port flood, and two faults.
# (No GDT overwrite in protected mode: 05-relocate's segments move the
# guest's writes away from the GDT, and the guest halts.)
HOSTILE_real="$G/loop-forever.bin $H/real-port-flood.bin $G/triple-fault.bin $H/real-mmio-write.bin"
HOSTILE_protected="$H/prot-loop.bin $H/prot-port-flood.bin $H/prot-unknown-in.bin $H/prot-jump-unmapped.bin"
HOSTILE_long="$H/long-loop.bin $H/long-port-flood.bin $H/long-gdt-overwrite.bin $H/long-jump-unmapped.bin"
# Step 8's: long mode's, then floods of the UART and of the sysregs, and
# every register of both poked with every size, which ends by writing
# exit code 7 to POWER_OFF: that ending too, for them.
HOSTILE_devices="$HOSTILE_long $H/long-uart-flood.bin $H/long-mmio-flood.bin $H/long-device-poke.bin"
ENDED_devices="$ENDED|the guest reports a failure: exit code 7\$"
# Step 9's: step 8's, then a timer handler without EOI, a storm of timer
# interrupts, and interrupts enabled with no IDT.
HOSTILE_interrupts="$HOSTILE_devices $H/long-no-eoi.bin $H/long-irq-storm.bin $H/long-sti-no-idt.bin"
ENDED_interrupts=$ENDED_devices
HOSTILE_smp="$HOSTILE_devices $H/long-smp-init-only.bin $H/long-smp-sipi-loop.bin"
ENDED_smp=$ENDED_devices

# solved_program EX: the path of EX's solved program, built ahead under
# build/exercises-ci/EX/build-solved (brought up to date here, natively).
solved_program() {
	local ahead=build/exercises-ci/$1 name value host=
	if [ "${KVM_LAB:-0}" != 1 ]; then
		WERROR=1 exercises/ex.sh prepare "$1" "$ahead" >/dev/null 2>&1
	fi
	while IFS='= ' read -r name value; do
		[ "$name" = EX_HOST ] && host=${value%.c}
	done <"exercises/$1/exercise.conf"
	printf '%s\n' "$ahead/build-solved/$host"
}

make_guest_files 3M
head -c 1536K /dev/zero | tr '\0' '\364' >"$SCRATCH/big.bin"

# big_guest NAME COMMAND...: the 1.5 MiB guest of hlt bytes: it runs and
# halts (status 0), or is refused as too large (2); never a signal (as
# 05-relocate's room check once allowed: it copied past its memory). The
# exercises in TOO_BIG_FOR have less room, and must refuse it.
TOO_BIG_FOR=" 05-relocate "
big_guest() {
	local name=$1
	shift
	run "$@" --guest "$SCRATCH/big.bin"
	if unsupported 1; then return 0; fi
	case $STATUS:$TOO_BIG_FOR in
	0:*" $name "*) is "$STATUS" 2 "$name, a 1.5 MiB guest file: refused, status 2" ;;
	0:*) like "$OUT" 'halted' "$name, a 1.5 MiB guest file: status 0, it ran and halted" ;;
	*) contract_check "$name" "a 1.5 MiB guest file, if not run" 2 'too large' ;;
	esac
}

for ex in $(exercises/ex.sh list); do
	program=$(solved_program "$ex")
	if [ ! -x "$program" ]; then
		ok 1 "$ex: the solved program is built ($program)"
		diag "make test-prereqs builds it (exercises/ex.sh prepare $ex build/exercises-ci/$ex)"
		continue
	fi
	mode=${MODE[$ex]:-}
	if [ -z "$mode" ]; then
		ok 1 "$ex: tests/exercises-contract.t knows its mode (MODE)"
		continue
	fi
	set -- ${mode#* }
	[ "$mode" != "${mode#* }" ] || set --
	mode=${mode%% *}

	run "$program" "$@" --bogus
	contract_check "$ex" "an unknown flag" 2 'unknown option "--bogus"'
	if [ "$mode" = linux ]; then
		bad_linux_files "$ex" "$program"
		continue
	fi
	if [ "$mode" = bench ]; then
		bad_bench_options "$ex" "$program"
		continue
	fi
	# The guest files, with the options of its mode (05-boot-pm's --boot).
	bad_guest_files "$ex" "$program" "$@"
	big_guest "$ex" "$program" "$@"
	hostile_list=HOSTILE_$mode
	ended=ENDED_$mode
	for guest in ${!hostile_list}; do
		hostile "$program $*" "$guest" "${!ended:-$ENDED}"
	done
done

plan "$TEST_NUMBER"
finish
