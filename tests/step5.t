#!/usr/bin/env bash
# Step 5, protected mode: the golden output of both ways in (the host's
# GDT and the guest's own boot loader), the mode in the trace, and guests
# whose segments are broken.
. "$(dirname "$0")/lib.sh"
need_steps 5 5
plan 45

run ./step5
is "$STATUS" 0 "step5 exits 0"
golden "$OUT" step5.out "step5 prints the golden output"

run ./step5 --trace
is "$STATUS" 0 "step5 --trace exits 0"
like "$ERR" '^\[trace\] start: cr0 0x11 \(PE ET\) ' "the trace starts in protected mode (CR0.PE), paging off"
like "$ERR" '^\[trace\] start: cs 0x0008 base 0x0 limit 0xffffffff type 0xb s 1 dpl 0 present 1 db 1 l 0 g 1  gdt 0x500 limit 0x17$' \
	"... with CS the flat 32-bit code segment and GDTR at the host's table"
is "$(printf '%s\n' "$ERR" | grep -c "out port 0xe9")" 14 "one out exit per byte of \"Hello, world!\\n\""
like "$ERR" '^\[trace\] KVM_EXIT_HLT ' "the trace shows KVM_EXIT_HLT"
like "$ERR" '^\[trace\] end: cs 0x0008 .* db 1 ' "the trace ends in 32-bit code"

run ./step5 --boot
is "$STATUS" 0 "step5 --boot exits 0"
golden "$OUT" step5-boot.out "step5 --boot prints the golden output"

run ./step5 --boot --trace
is "$STATUS" 0 "step5 --boot --trace exits 0"
like "$ERR" '^\[trace\] start: cr0 0x60000010 \(ET NW CD\) ' "--boot starts in real mode (CR0.PE clear)"
like "$ERR" '^\[trace\] start: cs 0x0000 base 0x0 limit 0xffff .* db 0 ' "... with a 16-bit CS"
like "$ERR" '^\[trace\] end: cr0 0x60000011 \(PE ET NW CD\) ' "... and ends with CR0.PE set by the guest"
like "$ERR" '^\[trace\] end: cs 0x0008 base 0x0 limit 0xffffffff .* db 1 l 0 g 1  gdt 0x10[0-9a-f]{2} limit 0x17$' \
	"... in the 32-bit code segment of the guest's own GDT"

run ./step5 --guest build/tests/guests/bad-selector32.bin
is "$STATUS" 1 "a guest loading a selector past the GDT's end: status 1"
like "$ERR" 'KVM_EXIT_SHUTDOWN' "... named KVM_EXIT_SHUTDOWN"
like "$ERR" 'selector beyond the GDT.s limit' "... explained by the GDT"
# AMD's KVM resets the vCPU after the triple fault; Intel's and kvm_pvm
# keep the registers, EIP at the mov ds, ax (8e d8) that faulted.
if matches "$ERR" '^  cs f000 '; then
	like "$ERR" '^  This KVM reset the vCPU after the shutdown, as AMD.s KVM does: the$' \
		"... AMD: the step says that KVM reset the vCPU"
	like "$ERR" '^  code at 0x1000: 66 b8 18 00 8e d8 ' "... and shows the code at the entry point, the last RIP known"
else
	like "$ERR" '^  This KVM kept the registers, as Intel.s and kvm_pvm do: the$' \
		"... Intel, kvm_pvm: the step says that KVM kept the registers"
	like "$ERR" '^  code at 0x1004: 8e d8 ' "... and shows the code at EIP: mov ds, ax"
fi
run_fake_kvm shutdown-reset ./step5 --guest build/tests/guests/bad-selector32.bin
is "$STATUS" 1 "the same guest on a KVM that resets the vCPU (fake, as AMD's): status 1"
like "$ERR" '^  registers below are the reset state \(CS:RIP f000:fff0, CR2 0\), not$' \
	"... the step says that the registers are the reset state"
like "$ERR" '^  last seen, at its entry point, as it never exited \(RIP 0x1000\):$' "... and where the guest was last seen"
like "$ERR" '^  code at 0x1000: 66 b8 18 00 8e d8 ' "... with the code there"
like "$ERR" '^  cs f000 \(base ffff0000, 16-bit\) ' "... then dumps the reset state"

run ./step5 --boot --guest build/tests/guests/bad-gdt.bin --timeout 5
is "$STATUS" 1 "a boot loader whose GDT code descriptor is not present: status 1, no hang"
like "$ERR" 'KVM_EXIT_SHUTDOWN' "... named KVM_EXIT_SHUTDOWN"
like "$ERR" 'not present or of the wrong type' "... explained by the descriptor"

# int3 in kernel mode with no IDT ends one way on each KVM, told apart by
# what the step prints: kvm_pvm cannot emulate it (an internal error);
# a hardware KVM delivers it, fails (#GP, #DF) and shuts down, after
# which AMD's KVM resets the vCPU (the register dump shows CS:IP
# f000:fff0) and Intel's keeps the registers.
run ./step5 --guest build/tests/guests/int3-32.bin --timeout 5
is "$STATUS" 1 "a guest executing int3 with no IDT: status 1, no hang"
if matches "$ERR" 'stopped: KVM_EXIT_INTERNAL_ERROR$'; then
	like "$ERR" '^  suberror 1: KVM could not emulate ' \
		"... kvm_pvm: KVM_EXIT_INTERNAL_ERROR, suberror 1: KVM could not emulate it"
	like "$ERR" '^  code at 0x1000: cc f4 ' "... with the bytes at EIP: int3, hlt"
	like "$ERR" '^  \(int3 in kernel mode: ' "... naming int3 as what such a KVM cannot emulate"
elif matches "$ERR" '^  cs f000 '; then
	like "$ERR" 'stopped: KVM_EXIT_SHUTDOWN$' "... AMD: KVM_EXIT_SHUTDOWN, a triple fault, after which KVM reset the vCPU"
	like "$ERR" '^  rip 000000000000fff0 ' "... CS:IP f000:fff0, the reset vector"
	like "$ERR" '^  code at 0x1000: cc f4 ' "... and the step shows the code at the entry point, the last EIP known"
else
	like "$ERR" 'stopped: KVM_EXIT_SHUTDOWN$' "... Intel: KVM_EXIT_SHUTDOWN, a triple fault, the registers kept"
	like "$ERR" '^  cs 0008 \(base 0, 32-bit\) ' "... still in the host's 32-bit code segment"
	like "$ERR" '^  code at 0x100[01]: (cc )?f4 ' "... and EIP at the int3 (or past it)"
fi

run ./step5 --guest build/tests/guests/loop-forever.bin --timeout 0.5
is "$STATUS" 1 "a guest looping forever: status 1, not a hang"
like "$ERR" '^  code at 0x1000: eb fe ' "... the step shows the code at EIP: a jump to itself"
like "$ERR" '^  The guest never exited: it loops in its own code, around RIP$' "... says that it never exited"
like "$ERR" 'Next: find that loop in your source,$' "... and what to do next"

run ./step5 --guest build/tests/guests/out-then-loop.bin --timeout 0.5
is "$STATUS" 1 "a guest that exits, then loops: status 1, not a hang"
like "$ERR" '^  code at 0x1004: eb fe ' "... the step shows the code at EIP"
like "$ERR" '^  The guest exited before, last at RIP 0x100[24], then looped: it may$' "... says where it last exited"
like "$ERR" 'Next: run with --trace to see its last exits.$' "... and what to do next"

run ./step5 --guest build/tests/guests/halt32.bin
is "$STATUS" 0 "a 32-bit --guest runs in the host's protected mode"
like "$OUT" 'halted in 32-bit protected mode: EAX = 7, memory\[0x400\] = 0' "... and is reported, not checked"

run ./step5 --boot --guest build/guest/boot16.bin
is "$STATUS" 0 "the boot loader's flat binary runs through --boot --guest"

run ./step5 --bogus
is "$STATUS" 2 "an unknown option: status 2"
like "$ERR" 'usage: step5 \[--boot\]' "... with the usage"

finish
