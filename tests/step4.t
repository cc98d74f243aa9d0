#!/usr/bin/env bash
# Step 4, real mode: the embedded guest's golden output, the trace, and
# the step contract's ways for a guest to fail.
. "$(dirname "$0")/lib.sh"
need_steps 4 4
plan 17

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

run ./step4 --guest build/tests/guests/loop-forever.bin --timeout 0.5
is "$STATUS" 1 "a guest looping forever: status 1, not a hang"
like "$ERR" 'timeout: the guest was still running after 0.5 s' "... stopped by the watchdog"
like "$ERR" 'rip 0+100[0-2] ' "... which says where the guest was"

run ./step4 --guest build/guest/real16.bin
is "$STATUS" 0 "the embedded guest's flat binary runs through --guest too"
like "$OUT" 'AX = 42, memory\[0x400\] = 42' "... and is reported, not checked"

finish
