#!/usr/bin/env bash
# Step 4, real mode: the embedded guest's golden output, the trace, and
# the step contract's ways for a guest to fail.
. "$(dirname "$0")/lib.sh"
need_steps 4 4
plan 35

run ./step4
is "$STATUS" 0 "step4 exits 0"
golden "$OUT" step4.out "step4 prints the golden output"

run ./step4 --trace
is "$STATUS" 0 "step4 --trace exits 0"
like "$ERR" '^\[trace\] KVM_EXIT_IO .* in port 0xe9 size 1 count 1$' "the trace shows the console probe (in from 0xe9)"
is "$(printf '%s\n' "$ERR" | grep -c "out port 0xe9")" 14 "the trace shows one out exit per byte of \"Hello, world!\\n\""
like "$ERR" '^\[trace\] KVM_EXIT_HLT ' "the trace ends with KVM_EXIT_HLT"

run ./step4 --guest build/tests/guests/unknown-port.bin
is "$STATUS" 1 "a guest writing to an unknown port: status 1"
like "$ERR" 'KVM_EXIT_IO' "... named KVM_EXIT_IO"
like "$ERR" 'out to port 0x1234 \(size 1, count 1\): no device answers' "... with the port and size"

run ./step4 --guest build/tests/guests/triple-fault.bin
is "$STATUS" 1 "a triple-faulting guest: status 1"
like "$ERR" 'KVM_EXIT_SHUTDOWN' "... named KVM_EXIT_SHUTDOWN"
like "$ERR" 'triple fault' "... explained as a triple fault"
# After the triple fault AMD's KVM resets the vCPU (CS:RIP f000:fff0);
# Intel's and kvm_pvm keep the registers, RIP at the ud2 (0f 0b).
if matches "$ERR" '^  cs f000 '; then
	like "$ERR" '^  This KVM reset the vCPU after the shutdown, as AMD.s KVM does: the$' \
		"... AMD: the step says that KVM reset the vCPU"
	like "$ERR" '^  last seen, at its entry point, as it never exited \(RIP 0x1000\):$' \
		"... and where the guest was last seen: its entry point"
	like "$ERR" '^  code at CS:RIP \(address 0x1000\): fa 0f 01 16 ' "... with the code there (cli, lgdt)"
else
	like "$ERR" '^  This KVM kept the registers, as Intel.s and kvm_pvm do: the$' \
		"... Intel, kvm_pvm: the step says that KVM kept the registers"
	like "$ERR" '^  code at CS:RIP \(address 0x101a\): 0f 0b ' "... and shows the code at RIP: the ud2"
	unlike "$ERR" 'reset the vCPU' "... and says nothing of a reset"
fi

# The fake KVM (tests/fakekvm.c) shows each KVM's way on this machine.
run_fake_kvm shutdown-reset ./step4 --guest build/tests/guests/triple-fault.bin
is "$STATUS" 1 "a KVM that resets the vCPU after the triple fault (fake, as AMD's): status 1"
like "$ERR" '^  registers below are the reset state \(CS:RIP f000:fff0, CR2 0\), not$' \
	"... the step says that the registers are the reset state"
like "$ERR" '^  the fault.s. To find the cause, run with --trace to see the last$' "... says to look at the trace"
like "$ERR" '^  code at CS:RIP \(address 0x1000\): fa 0f 01 16 ' "... shows the code at the entry point, the last RIP known"
like "$ERR" '^  rip 000000000000fff0 ' "... and dumps the reset state (RIP 0xfff0)"
like "$ERR" '^  cs f000 \(base ffff0000\) ' "... (CS f000, base ffff0000)"
run_fake_kvm shutdown-keep ./step4 --guest build/tests/guests/triple-fault.bin
is "$STATUS" 1 "a KVM that keeps the registers after the triple fault (fake, as Intel's): status 1"
like "$ERR" '^  registers below are the fault.s, and RIP is where it happened.$' "... the step says that they are the fault's"
unlike "$ERR" 'reset' "... and nothing of a reset"

run ./step4 --guest build/tests/guests/loop-forever.bin --timeout 0.5
is "$STATUS" 1 "a guest looping forever: status 1, not a hang"
like "$ERR" 'timeout: the guest was still running after 0.5 s' "... stopped by the watchdog"
like "$ERR" 'rip 0+100[0-2] ' "... which says where the guest was"
like "$ERR" '^  code at CS:RIP \(address 0x1000\): eb fe ' "... shows the code there: a jump to itself"
like "$ERR" '^  The guest never exited: it loops in its own code, around RIP$' "... says that it never exited"
like "$ERR" 'Next: find that loop in your source,$' "... and what to do next"

run ./step4 --guest build/tests/guests/out-then-loop.bin --timeout 0.5
is "$STATUS" 1 "a guest that exits, then loops: status 1, not a hang"
like "$ERR" '^  The guest exited before, last at RIP 0x100[24], then looped: it may$' "... says where it last exited"
like "$ERR" 'Next: run with --trace to see its last exits.$' "... and what to do next"

run ./step4 --guest build/guest/real16.bin
is "$STATUS" 0 "the embedded guest's flat binary runs through --guest too"
like "$OUT" 'AX = 42, memory\[0x400\] = 42' "... and is reported, not checked"

finish
