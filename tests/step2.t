#!/usr/bin/env bash
# Step 2, a VM and its memory: the map it shows, and every bad region
# refused by KVM with the errno the step expects.
. "$(dirname "$0")/lib.sh"
need_steps 2 2
plan 5

run ./step2
is "$STATUS" 0 "step2 exits 0"
like "$OUT" 'guest 0x00000000-0x001fffff  ->  host 0x[0-9a-f]+-0x[0-9a-f]+  \(2048 KiB of RAM\)' "it shows the guest-physical to host map"
# The host address changes from run to run (ASLR): compare without it.
golden "$(printf '%s\n' "$OUT" | sed -E 's/host 0x[0-9a-f]+-0x[0-9a-f]+/host HOST-HOST/')" step2.out \
	"step2 prints the golden output (host addresses masked)"

run env KVM_DEVICE=/dev/null ./step2
is "$STATUS" 2 "/dev/null as the device: status 2"
like "$ERR" 'not a KVM device' "... says it is not a KVM device"

finish
