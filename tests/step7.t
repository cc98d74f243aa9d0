#!/usr/bin/env bash
# Step 7, long mode: the golden output, the mode and the translations in
# the trace, the high half, and guests that touch what is not mapped.
. "$(dirname "$0")/lib.sh"
need_steps 7 7
plan 62

run ./step7
is "$STATUS" 0 "step7 exits 0"
golden "$OUT" step7.out "step7 prints the golden output"

run ./step7 --trace
is "$STATUS" 0 "step7 --trace exits 0"
like "$ERR" '^\[trace\] start: cr0 0x80010011 \(PE ET WP PG\)  cr3 0x100000  cr4 0x20 \(PAE\)  efer 0x500 \(LME LMA\)$' \
	"the trace starts in long mode: PG, PAE, LME and LMA, CR3 at the PML4"
like "$ERR" '^\[trace\] start: cs 0x0008 .* db 0 l 1 ' "... with a 64-bit code segment (l=1, db=0)"
like "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0x1000 -> physical 0x1000$' "KVM_TRANSLATE: the low mapping is identity"
like "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0xffffffff80001000 -> physical 0x1000$' "KVM_TRANSLATE: the high half maps the same page"
printed=$(printf '%s\n' "$OUT" | grep -v '^step7: ' | wc -c)
is "$(printf '%s\n' "$ERR" | grep -c "out port 0xe9")" "$printed" "one out exit per byte the guest prints ($printed)"
like "$ERR" '^\[trace\] KVM_EXIT_HLT +rip 0xffffffff8000[0-9a-f]{4}$' "the guest halts in the high half"
like "$ERR" '^\[trace\] end: cr0 0x80010011 .* efer 0x500 \(LME LMA\)$' "the trace ends still in long mode"

run ./step7 --no-high-half --timeout 5
is "$STATUS" 1 "without the high-half mapping: status 1, no hang"
like "$OUT" '^Hello, world!$' "... after the guest printed from the low half"
like "$ERR" 'KVM_EXIT_SHUTDOWN' "... then KVM_EXIT_SHUTDOWN"
like "$ERR" 'In long mode the usual cause is a page' "... explained as a page fault"
like "$ERR" '^  It came after [0-9]+ other exits, so the tables worked for a while:$' "... after the guest had run a while"
# After KVM_EXIT_SHUTDOWN, AMD's KVM resets the vCPU (the register dump
# shows CS:RIP f000:fff0); Intel's and kvm_pvm keep the registers.
if matches "$ERR" '^  cs f000 '; then
	like "$ERR" '^  This KVM reset the vCPU after the shutdown, as AMD.s KVM does: the$' \
		"... AMD: the step says that KVM reset the vCPU"
	like "$ERR" '^  last seen, at its last exit \(RIP 0x[0-9a-f]+\):$' "... and where the guest was last seen"
	like "$ERR" '^  rip 000000000000fff0 ' "... CS:RIP f000:fff0, the reset vector"
	like "$ERR" '^  cr2 0 \(' "... and CR2 0"
	unlike "$ERR" 'CR2 holds' "... which the step no longer points at"
else
	like "$ERR" '^  This KVM kept the registers, as Intel.s and kvm_pvm do: the$' \
		"... Intel, kvm_pvm: the step says that KVM kept the registers"
	like "$ERR" '^  code at 0xffffffff8000[0-9a-f]{4}: \(not mapped\)$' \
		"... RIP in the unmapped high half"
	[[ $ERR =~ code\ at\ 0x([0-9a-f]+): ]] && rip=${BASH_REMATCH[1]} || rip='(no code line)'
	like "$ERR" "^  cr2 $rip \\(" "... and CR2, the address that faulted, is RIP ($rip)"
	like "$ERR" '^  cs 0008 \(l 1 db 0\) .* efer 500$' "... in 64-bit mode still (CS.l, EFER.LME and LMA)"
	like "$ERR" '^  write\); CR2 holds the address\.$' "... and the step points at CR2"
fi

run ./step7 --no-high-half --trace
like "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0xffffffff80001000 -> not mapped$' "--trace shows the high half unmapped"

run ./step7 --guest build/tests/guests/unmapped64.bin --timeout 5
is "$STATUS" 1 "a guest reading an unmapped address: status 1, no hang"
like "$ERR" 'KVM_EXIT_SHUTDOWN' "... named KVM_EXIT_SHUTDOWN"
like "$ERR" '^  It came before any other exit, right after entry: is the code at$' "... right after entry, which the message says"
if matches "$ERR" '^  cs f000 '; then
	like "$ERR" '^  EFER\. Or the first address the guest touched is not mapped\.$' \
		"... AMD: KVM reset the vCPU, and the step does not point at CR2"
	like "$ERR" '^  last seen, at its entry point, as it never exited \(RIP 0x1000\):$' "... but at the entry point"
	like "$ERR" '^  code at 0x1000: 48 8b 04 25 00 00 00 40$' "... and its code: mov rax, [0x40000000]"
	like "$ERR" '^  cr2 0 \(' "... and CR2 0: the faulting address is lost"
else
	like "$ERR" '^  EFER\. Or the first address the guest touched is not mapped \(CR2\)\.$' \
		"... Intel, kvm_pvm: the step points at CR2"
	like "$ERR" '^  cr2 40000000 \(' "... the registers kept, CR2 the faulting address"
	like "$ERR" '^  code at 0x1000: 48 8b 04 25 00 00 00 40$' "... RIP at the read, whose bytes the step shows"
	like "$ERR" '^  cs 0008 \(l 1 db 0\) .* efer 500$' "... in 64-bit mode still (CS.l, EFER.LME and LMA)"
fi

# The fake KVM (tests/fakekvm.c) shows both ways on any KVM: the vCPU
# reset (as AMD's KVM does), and the registers kept (as Intel's does).
run_fake_kvm shutdown-reset ./step7 --guest build/tests/guests/unmapped64.bin --timeout 5
is "$STATUS" 1 "the same guest on a KVM that resets the vCPU (fake, as AMD's): status 1"
like "$ERR" '^  EFER\. Or the first address the guest touched is not mapped\.$' "... the step does not point at CR2"
like "$ERR" '^  registers below are the reset state \(CS:RIP f000:fff0, CR2 0\), not$' \
	"... says that the registers are the reset state"
like "$ERR" '^  the fault.s. To find the cause, run with --trace to see the last$' "... says to look at the trace"
like "$ERR" '^  last seen, at its entry point, as it never exited \(RIP 0x1000\):$' "... and where the guest was last seen"
like "$ERR" '^  code at 0x1000: 48 8b 04 25 00 00 00 40$' "... with the code there, through the guest's tables"
like "$ERR" '^  cs f000 \(l 0 db 0\)  ss 0000  cr0 60000010  cr3 0  cr4 0  efer 0$' "... then dumps the reset state"
FAKE_KVM_CR2=0x40000000 run_fake_kvm shutdown-keep ./step7 --guest build/tests/guests/unmapped64.bin --timeout 5
is "$STATUS" 1 "the same guest on a KVM that keeps the registers (fake, as Intel's): status 1"
like "$ERR" '^  EFER\. Or the first address the guest touched is not mapped \(CR2\)\.$' "... the step points at CR2"
like "$ERR" '^  registers below are the fault.s, and RIP is where it happened.$' "... says the registers are the fault's"
like "$ERR" '^  code at 0x1000: 48 8b 04 25 00 00 00 40$' "... shows the code at RIP"
like "$ERR" '^  cr2 40000000 \(' "... and CR2, the address that faulted"
unlike "$ERR" 'reset' "... and nothing of a reset"

# A guest that breaks its own paging is told so, whatever the KVM: not
# the host's tables, which worked.
run ./step7 --guest build/tests/guests/clear-pml4-64.bin --timeout 5
is "$STATUS" 1 "a guest that clears its PML4's entry 0: status 1, no hang"
like "$ERR" '^  The guest ran, then changed entry 0 of the PML4 \(at 0x100000\):$' "... the step names the entry it changed"
like "$ERR" '^  its own change is the likely cause, not the host.s tables. Check$' "... and blames the guest, not the host"
unlike "$ERR" 'It came before any other exit' "... without pointing at the host's tables"
if matches "$ERR" '^  cs f000 '; then
	like "$ERR" '^  touched\.$' "... AMD: KVM reset the vCPU, and the step does not point at CR2"
	like "$ERR" '^  code at 0x1000: \(not mapped\)$' "... the entry point, no longer mapped by the guest's tables"
else
	like "$ERR" '^  touched \(CR2\)\.$' "... Intel, kvm_pvm: the step points at CR2"
	like "$ERR" '^  cr2 100c \(' "... the fetch after the mov to CR3 faulted"
fi
run_fake_kvm shutdown-reset ./step7 --guest build/tests/guests/clear-pml4-64.bin --timeout 5
like "$ERR" '^  The guest ran, then changed entry 0 of the PML4 \(at 0x100000\):$' \
	"... and on a KVM that resets the vCPU (fake, as AMD's) too"

run ./step7 --guest build/tests/guests/new-cr3-64.bin --timeout 5
is "$STATUS" 1 "a guest that prints, then loads CR3 with an empty PML4: status 1, no hang"
like "$OUT" '^!$' "... after it printed"
if matches "$ERR" '^  cs f000 '; then
	like "$ERR" '^  It came after 1 other exit, so the tables worked for a while:$' \
		"... AMD: the reset lost CR3, and the step says the tables worked"
	like "$ERR" '^  write\), or tables of the guest.s own, loaded into CR3 after$' "... and names the guest's CR3 as a cause"
else
	like "$ERR" '^  The guest ran, then loaded CR3 with 0x180000, tables of its own:$' \
		"... Intel, kvm_pvm: the step names the CR3 it loaded"
	like "$ERR" '^  its own change is the likely cause, not the host.s tables. Check$' "... and blames the guest"
fi
run_fake_kvm shutdown-reset ./step7 --guest build/tests/guests/new-cr3-64.bin --timeout 5
like "$ERR" '^  write\), or tables of the guest.s own, loaded into CR3 after$' \
	"... on a KVM that resets the vCPU (fake, as AMD's), the step names the guest's CR3 as a cause"
like "$ERR" '^  last seen, at its last exit \(RIP 0x100[24]\):$' "... and says where the guest was last seen"
like "$ERR" '^  code at 0x100[24]: ' "... with the code there"

run ./step7 --guest build/tests/guests/out-then-loop.bin --timeout 0.5
is "$STATUS" 1 "a guest that exits, then loops: status 1, not a hang"
like "$ERR" '^  code at 0x1004: eb fe ' "... the step shows the code at RIP"
like "$ERR" '^  The guest exited before, last at RIP 0x100[24], then looped: it may$' "... says where it last exited"
like "$ERR" 'Next: run with --trace to see its last exits.$' "... and what to do next"

run ./step7 --guest build/guest/hello64.bin
is "$STATUS" 0 "the embedded guest's flat binary runs through --guest too"
like "$OUT" 'in the high half: RAX = 42, memory\[0x400\] = 42' "... and is reported, not checked"

run ./step7 --bogus
is "$STATUS" 2 "an unknown option: status 2"

finish
