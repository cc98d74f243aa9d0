#!/usr/bin/env bash
# The hostile guests (tests/hostile/, tests/guests/) through every step of
# their mode (each must be built): each must end with status 1, the right
# exit named on stderr, within its watchdog's time; never a signal, a
# hang, or a status other than 1 (77, this host's KVM cannot run the
# step, is a skip natively and a failure in the lab).
. "$(dirname "$0")/lib.sh"
need_steps 3

# hostile, WATCHDOG, TIMEOUT, SHUTDOWN, INTERNAL, H and G: see lib.sh.

# Real mode: step 3 enters the guest once, so its first exit ends the run;
# step 4 (and step 5 --boot, which starts its guest in real mode) run a
# loop that answers the console port (0xe9).
for step in step3 step4 "step5 --boot"; do
	if [ "$step" = step3 ]; then
		console_out='stopped: KVM_EXIT_IO'
		console_in='stopped: KVM_EXIT_IO'
	else
		console_out=$TIMEOUT
		console_in=$TIMEOUT
	fi
	hostile "$step" $G/loop-forever.bin "$TIMEOUT" 'rip 0+100[0-2] '
	hostile "$step" $G/triple-fault.bin "$SHUTDOWN" 'triple fault'
	hostile "$step" $G/unknown-port.bin 'stopped: KVM_EXIT_IO' 'out to port 0x1234 \(size 1, count 1\)'
	hostile "$step" $H/real-port-flood.bin "$console_out"
	hostile "$step" $H/real-in-flood.bin "$console_in"
	hostile "$step" $H/real-rep-outsb.bin "$console_out"
	hostile "$step" $H/real-rep-insb.bin "$console_in"
	hostile "$step" $H/real-unknown-in.bin 'stopped: KVM_EXIT_IO' 'in from port 0x60 \(size 1, count 1\)'
	hostile "$step" $H/real-wide-console.bin 'stopped: KVM_EXIT_IO' 'out to port 0xe9 \(size 2, count 1\)'
	hostile "$step" $H/real-mmio-read.bin 'stopped: KVM_EXIT_MMIO' 'read of 4 bytes at guest-physical 0x80000000'
	hostile "$step" $H/real-mmio-write.bin 'stopped: KVM_EXIT_MMIO' 'write of 4 bytes at guest-physical 0x40000000'
	hostile "$step" $H/real-jump-unmapped.bin "$INTERNAL" '0x80000000\)?: \(no RAM there\)'
	hostile "$step" $H/real-ram-edge.bin "$INTERNAL" '0x1fffff\)?: 0f \(then no RAM there\)'
done

# 32-bit protected mode, started by the host: step 5 (segments only) and
# step 6 (32-bit paging, and PAE). Without paging, an address past RAM is
# an MMIO exit (data) or an emulation failure (code); step 6 maps RAM only,
# so there the same access is a page fault, and with no IDT a triple fault.
# A rep outsb of 4 GiB ends at the watchdog where each byte is an exit; a
# KVM that batches a page per exit may reach the end of RAM first.
for step in step5 step6 "step6 --pae"; do
	if [ "$step" = step5 ]; then
		beyond_data='stopped: KVM_EXIT_MMIO'
		beyond_code=$INTERNAL
	else
		beyond_data=$SHUTDOWN
		beyond_code=$SHUTDOWN
	fi
	hostile "$step" $H/prot-loop.bin "$TIMEOUT"
	hostile "$step" $H/prot-port-flood.bin "$TIMEOUT"
	hostile "$step" $H/prot-rep-outsb.bin "$TIMEOUT|stopped: KVM_EXIT_MMIO|$SHUTDOWN"
	hostile "$step" $H/prot-unknown-in.bin 'stopped: KVM_EXIT_IO' 'in from port 0x60 \(size 1, count 1\)'
	hostile "$step" $H/prot-mmio-read.bin "$beyond_data"
	hostile "$step" $H/prot-mmio-flood.bin "$beyond_data"
	hostile "$step" $H/prot-jump-unmapped.bin "$beyond_code"
	hostile "$step" $H/prot-ram-edge.bin "$beyond_code"
	hostile "$step" $H/prot-gdt-overwrite.bin "$SHUTDOWN"
	hostile "$step" $H/prot-page-table-overwrite.bin "$SHUTDOWN"
done

# Long mode: step 7 and step 11 (step 7's machine, with a gdb stub),
# whose page tables map the first 2 MiB (RAM) only, and steps 8, 9 and
# 12, which also map their devices' 2 MiB at 0xd0000000 and answer
# COM1's ports instead of the console port 0xe9: there, an out to 0xe9
# is a port no device claims. Step 12 runs them on its first vCPU, the
# others waiting for INIT and SIPI.
for step in step7 step8 step9 step11 step12; do
	if [ "$step" = step7 ] || [ "$step" = step11 ]; then
		console=$TIMEOUT
		console_rep="$TIMEOUT|$SHUTDOWN"
	else
		console='stopped: KVM_EXIT_IO'
		console_rep='stopped: KVM_EXIT_IO'
	fi
	hostile "$step" $H/long-loop.bin "$TIMEOUT"
	hostile "$step" $H/long-port-flood.bin "$console"
	hostile "$step" $H/long-rep-outsb.bin "$console_rep"
	hostile "$step" $H/long-unknown-in.bin 'stopped: KVM_EXIT_IO' 'in from port 0x60 \(size 1, count 1\)'
	hostile "$step" $H/long-mmio-read.bin 'stopped: KVM_EXIT_MMIO' 'read of 4 bytes at guest-physical 0x200000'
	hostile "$step" $H/long-jump-unmapped.bin "$SHUTDOWN"
	hostile "$step" $H/long-jump-noncanonical.bin "$SHUTDOWN"
	hostile "$step" $H/long-jump-mmio.bin "$INTERNAL" '0x200000\)?: \(no RAM there\)'
	hostile "$step" $H/long-page-table-overwrite.bin "$SHUTDOWN"
	hostile "$step" $H/long-gdt-overwrite.bin "$SHUTDOWN"
	hostile "$step" $H/long-clear-pae.bin "$SHUTDOWN"
done

# Step 8's devices: a UART flooded with bytes, the clock read for ever,
# an access that runs past COM1's last port, and every register poked
# with every size, which must end where the guest powers off. That one
# makes about a thousand exits, each one to us, before it powers off:
# the lab, busy, once took more than the usual half a second's watchdog
# (step 9, still at its string I/O), so it gets 3 s.
for step in step8 step9 step12; do
	hostile $step $H/long-uart-flood.bin "$TIMEOUT"
	hostile $step $H/long-mmio-flood.bin "$TIMEOUT"
	hostile $step $H/long-uart-wide.bin 'stopped: KVM_EXIT_IO' 'in from port 0x3fe \(size 4, count 1\)'
	WATCHDOG=3 LIMIT_MS=8000 hostile $step $H/long-device-poke.bin 'the guest reports a failure: exit code 7$'
done

# Step 9's interrupts: interrupts on with no IDT; a timer handler that
# never sends EOI; a storm of timer interrupts, and one whose handler the
# watchdog catches before its EOI (line 0 in service, as without EOI, but
# IF 0: the storm); a fault inside a handler,
# whose delivery faults (a double fault) and faults again. A guest that
# halts with interrupts off ends by itself: no interrupt can wake it.
hostile step9 $H/long-sti-no-idt.bin "$SHUTDOWN" 'enabled interrupts \(sti: IF is 1( at its last exit)?\)$'
hostile step9 $H/long-no-eoi.bin "$TIMEOUT" '^  IRQ 0 is in service since its interrupt, and no EOI ended it'
hostile step9 $H/long-irq-storm.bin "$TIMEOUT" '^  an interrupt storm: the PIT interrupts 596591 times a second'
hostile step9 $H/long-irq-storm-slow.bin "$TIMEOUT" '^  an interrupt storm: the PIT interrupts 596591 times a second'
hostile step9 $H/long-fault-in-handler.bin "$SHUTDOWN" 'has an IDT \(0x80000, limit 0xfff\), yet an'

# Step 12 has step 9's interrupt controllers: the same triple faults,
# named on the vCPU they happened on. Its own guests, a deadlock and
# APs started wrong, are in tests/step12.t.
hostile step12 $H/long-sti-no-idt.bin "$SHUTDOWN" 'enabled interrupts \(sti: IF is 1( at its last exit)?\)$'
hostile step12 $H/long-fault-in-handler.bin "$SHUTDOWN" 'has an IDT \(0x80000, limit 0xfff\), yet an'

# Step 10 runs no guest of ours: it boots Linux (tests/step10.t), and
# answers the ports and addresses nobody claims as a PC's empty bus does
# (0xff), so these guests would only meet its watchdog.
# Step 13 runs no guest of ours either: its own, which makes the exits it
# measures (tests/step13.t).

plan "$TEST_NUMBER"
finish
