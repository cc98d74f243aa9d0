#!/usr/bin/env bash
# Step 7, long mode: the golden output, the mode and the translations in
# the trace, the high half, and guests that touch what is not mapped.
. "$(dirname "$0")/lib.sh"
need_steps 7 7
plan 28

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
	like "$ERR" '^  \(the vCPU is no longer in long mode: KVM reset it, RIP tells nothing\)$' \
		"... AMD: KVM reset the vCPU, and the step says RIP tells nothing"
	like "$ERR" '^  rip 000000000000fff0 ' "... CS:RIP f000:fff0, the reset vector"
	like "$ERR" '^  cr2 0 \(' "... and CR2 0"
else
	like "$ERR" '^  code at 0xffffffff8000[0-9a-f]{4}: \(not mapped\)$' \
		"... Intel, kvm_pvm: the registers kept, RIP in the unmapped high half"
	[[ $ERR =~ code\ at\ 0x([0-9a-f]+): ]] && rip=${BASH_REMATCH[1]} || rip='(no code line)'
	like "$ERR" "^  cr2 $rip \\(" "... and CR2, the address that faulted, is RIP ($rip)"
	like "$ERR" '^  cs 0008 \(l 1 db 0\) .* efer 500$' "... in 64-bit mode still (CS.l, EFER.LME and LMA)"
fi

run ./step7 --no-high-half --trace
like "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0xffffffff80001000 -> not mapped$' "--trace shows the high half unmapped"

run ./step7 --guest build/tests/guests/unmapped64.bin --timeout 5
is "$STATUS" 1 "a guest reading an unmapped address: status 1, no hang"
like "$ERR" 'KVM_EXIT_SHUTDOWN' "... named KVM_EXIT_SHUTDOWN"
like "$ERR" '^  It came before any other exit, right after entry: is the code at$' "... right after entry, which the message says"
if matches "$ERR" '^  cs f000 '; then
	like "$ERR" '^  \(the vCPU is no longer in long mode: KVM reset it, RIP tells nothing\)$' \
		"... AMD: KVM reset the vCPU, and the step says RIP tells nothing"
	like "$ERR" '^  rip 000000000000fff0 ' "... CS:RIP f000:fff0, the reset vector"
	like "$ERR" '^  cr2 0 \(' "... and CR2 0: the faulting address is lost"
else
	like "$ERR" '^  cr2 40000000 \(' "... Intel, kvm_pvm: the registers kept, CR2 the faulting address"
	like "$ERR" '^  code at 0x1[0-9a-f]{3}: [0-9a-f]{2} ' "... RIP in the guest's code, whose bytes the step shows"
	like "$ERR" '^  cs 0008 \(l 1 db 0\) .* efer 500$' "... in 64-bit mode still (CS.l, EFER.LME and LMA)"
fi

run ./step7 --guest build/guest/hello64.bin
is "$STATUS" 0 "the embedded guest's flat binary runs through --guest too"
like "$OUT" 'in the high half: RAX = 42, memory\[0x400\] = 42' "... and is reported, not checked"

run ./step7 --bogus
is "$STATUS" 2 "an unknown option: status 2"

finish
