#!/usr/bin/env bash
# One step per mode under valgrind (memcheck, every leak kind an error):
# the embedded guest, a guest stopped by the watchdog and one that ends
# in an exit the step does not handle. No invalid access, no uninitialised
# value, no leak. make deps installs valgrind; where it is missing the
# tests skip natively, and fail in the lab, where nothing may skip. A sanitized build (make SANITIZE=1) cannot run under
# valgrind: skipped then too (CI runs this file on the plain build).
. "$(dirname "$0")/lib.sh"
need_steps 4

# STEP GUEST (-: the embedded one) STATUS [TIMEOUT, default 2 s], per
# mode. Step 9's own guest runs from its ELF file: the embedded guest
# would have step 9 judge the PIT's rate, and under valgrind the host
# handles exits so slowly that KVM's PIT makes up its missed ticks in
# bursts (it reinjects them): the rate measured is off, and not for any
# fault valgrind looks for. Step 13 measures with its own guest, in its
# short mode (--short).
RUNS="step4 - 0
step4 build/tests/hostile/real-port-flood.bin 1
step4 build/tests/hostile/real-ram-edge.bin 1
step5 - 0
step5 build/tests/hostile/prot-loop.bin 1
step5 build/tests/hostile/prot-mmio-read.bin 1
step6 - 0
step6 build/tests/hostile/prot-port-flood.bin 1
step7 - 0
step7 build/tests/hostile/long-loop.bin 1
step7 build/tests/hostile/long-mmio-read.bin 1
step8 - 0
step8 build/tests/hostile/long-device-poke.bin 1
step8 build/tests/guests/mmio-unclaimed64.bin 1
step9 build/guest/interrupts64.elf 0 30
step9 build/tests/hostile/long-no-eoi.bin 1
step9 build/tests/guests/fault-pf.elf 1
step10 build/linux/vmlinuz 1 5
step11 - 0
step12 build/guest/smp64.elf 0 30
step12 build/tests/guests/smp-deadlock.elf 1
step13 - 0"
PER_RUN=2

runs=$(printf '%s\n' "$RUNS" | wc -l)
plan $((runs * PER_RUN))

why=
if ! command -v valgrind >/dev/null; then
	why="valgrind is not installed"
elif [ "$(cat build/steps-linked 2>/dev/null)" = sanitize ]; then
	why="the steps are built with SANITIZE=1, which valgrind cannot run"
fi
if [ -n "$why" ]; then
	if [ "${KVM_LAB:-0}" = 1 ] && [ "$why" = "valgrind is not installed" ]; then
		for _ in $(seq $((runs * PER_RUN))); do ok 1 "skipped in the lab, where nothing may skip: $why"; done
	else
		skip $((runs * PER_RUN)) "$why"
	fi
	finish
fi

TEST_TIMEOUT=300
while read -r step guest status timeout; do
	args=()
	[ "$guest" = - ] || args=(--guest "$guest" --timeout "${timeout:-2}")
	# Step 10 boots Linux: tens of thousands of exits, each handled
	# many times slower under valgrind; a whole boot would take minutes.
	# Its run here is the set-up (the files, the VM, CPUID, the threads)
	# and the watchdog, 5 s into the boot: status 1.
	[ "$step" != step10 ] || args=(--kernel "$guest" --initrd build/linux/initramfs.cpio.gz
		--timeout "$timeout")
	# Step 13 runs its own guest, every figure: in its short mode.
	[ "$step" != step13 ] || args=(--short)
	run valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
		--error-exitcode=99 "./$step" "${args[@]}"
	name="valgrind $step ${guest##*/}"
	[ "$guest" = - ] && name="valgrind $step (embedded guest)"
	unsupported $PER_RUN && continue
	is "$STATUS" "$status" "$name: status $status (99 is valgrind's: errors found)"
	unlike "$ERR" '^==[0-9]+== ' "$name: no valgrind report"
done <<<"$RUNS"
finish
