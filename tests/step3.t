#!/usr/bin/env bash
# Step 3, a vCPU: one KVM_RUN, the registers before and after, and the
# step contract's options and errors.
. "$(dirname "$0")/lib.sh"
need_steps 3 3
plan 28

run ./step3
is "$STATUS" 0 "step3 exits 0"
golden "$OUT" step3.out "step3 prints the golden output (registers before and after)"

run ./step3 --trace
is "$STATUS" 0 "step3 --trace exits 0"
like "$ERR" '^\[trace\] KVM_EXIT_HLT +rip 0x1007$' "the trace shows the one exit, HLT after the hlt at 0x1006"

run ./step3 --help
is "$STATUS" 0 "--help exits 0"
like "$OUT" '^usage: step3 \[--trace\] \[--guest FILE\] \[--timeout SECONDS\] \[--help\]' "... and prints the usage"

run ./step3 --bogus
is "$STATUS" 2 "an unknown flag: status 2"
like "$ERR" 'unknown option "--bogus"' "... named in the message"

run ./step3 --guest
is "$STATUS" 2 "--guest without a file: status 2"
like "$ERR" -- '--guest needs a value' "... says it needs a value"

run ./step3 --timeout soon
is "$STATUS" 2 "--timeout with a bad number: status 2"

run ./step3 --guest "$SCRATCH/missing.bin"
is "$STATUS" 2 "a missing guest file: status 2"
like "$ERR" 'cannot open guest file .*missing.bin: No such file or directory' "... says so"

: >"$SCRATCH/empty.bin"
run ./step3 --guest "$SCRATCH/empty.bin"
is "$STATUS" 2 "an empty guest file: status 2"
like "$ERR" 'is empty' "... says it is empty"

truncate -s 3M "$SCRATCH/huge.bin"
run ./step3 --guest "$SCRATCH/huge.bin"
is "$STATUS" 2 "a guest file larger than guest memory: status 2"
like "$ERR" "too large: 3145728 bytes, and the guest has room" "... says how large it is"
like "$ERR" "for 2093056 bytes at 0x1000" "... and how much room there is"

run ./step3 --guest "$SCRATCH"
is "$STATUS" 2 "a directory as the guest file: status 2"

run ./step3 --guest build/tests/guests/unknown-port.bin
is "$STATUS" 1 "a guest that does port I/O: status 1 (step 3 handles none)"
like "$ERR" 'KVM_EXIT_IO' "... named KVM_EXIT_IO"

run ./step3 --guest build/tests/guests/loop-forever.bin --timeout 0.3
is "$STATUS" 1 "a guest looping forever: stopped by the watchdog, status 1"
like "$ERR" 'timeout: the guest was still running' "... says so"
like "$ERR" '^  The guest never exited: it loops in its own code, around RIP$' "... and what that means"

run ./step3 --guest build/tests/guests/triple-fault.bin
is "$STATUS" 1 "a triple-faulting guest: status 1"
# AMD's KVM resets the vCPU after the triple fault; Intel's and kvm_pvm
# keep the registers, RIP at the ud2 (0f 0b).
if matches "$ERR" '^  cs  f000 '; then
	like "$ERR" '^  This KVM reset the vCPU after the shutdown, as AMD.s KVM does: the$' \
		"... AMD: the step says that KVM reset the vCPU"
	like "$ERR" '^  code at CS:RIP \(address 0x1000\): fa 0f 01 16 ' "... and shows the code at the entry point"
else
	like "$ERR" '^  This KVM kept the registers, as Intel.s and kvm_pvm do: the$' \
		"... Intel, kvm_pvm: the step says that KVM kept the registers"
	like "$ERR" '^  code at CS:RIP \(address 0x101a\): 0f 0b ' "... and shows the code at RIP: the ud2"
fi
run_fake_kvm shutdown-reset ./step3 --guest build/tests/guests/triple-fault.bin
like "$ERR" '^  last seen, at its entry point, as it never exited \(RIP 0x1000\):$' \
	"on a KVM that resets the vCPU (fake, as AMD's), the step shows where the guest was last seen"

finish
