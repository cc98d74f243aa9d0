#!/usr/bin/env bash
# Step 12, several vCPUs: for 1, 2 and 4 CPUs, the greetings (every CPU,
# in order), the counter (exact under the lock, and checked by the host),
# the MP states each vCPU went through (the BSP RUNNABLE; each AP
# UNINITIALIZED, INIT_RECEIVED, RUNNABLE; all HALTED with interrupts off
# at the end); the counter without the lock; the trace (each exit's vCPU,
# the MP states as seen, no exit for the local APIC); the hostile cases
# (a deadlock, an AP that never gets its SIPI, one whose SIPI starts it
# in a loop, APs never started by a guest that halts), each ending in
# the watchdog's report of every vCPU; a CPU woken late that runs on
# without an exit (the run waits for it); the options (--cpus 0, 9, junk;
# --iterations); KVM's limits (fewer vCPUs, no MP states: status 77).
# A KVM without an in-kernel irqchip makes step 12 exit 77: then these
# tests skip natively (and fail in the lab).
. "$(dirname "$0")/lib.sh"
need_steps 12 12

# The options, refused before any VM: status 2 and a message.
for bad in 0 9 junk -1 1.5 '' +2 99999999999999999999; do
	run ./step12 --cpus "$bad"
	contract_check step12 "--cpus '$bad'" 2 "--cpus wants a number of vCPUs from 1 to 8, not \"${bad//+/\\+}\""
done
run ./step12 --cpus
contract_check step12 "--cpus without a value" 2 '--cpus needs a value'
for bad in 0 junk 100000001; do
	run ./step12 --iterations "$bad"
	contract_check step12 "--iterations '$bad'" 2 "--iterations wants a number of additions from 1 to 100000000"
done

# KVM's answers: no in-kernel irqchip, no MP states, fewer vCPUs than
# asked for (tests/fakekvm.c hides or lowers the capability): 77.
run_fake_kvm no-irqchip ./step12
is "$STATUS" 77 "a KVM without KVM_CAP_IRQCHIP: status 77"
like "$ERR" '^step12: this KVM has no in-kernel interrupt controller \(KVM_CAP_IRQCHIP\),$' "... and says why"
run_fake_kvm no-mp-state ./step12
is "$STATUS" 77 "a KVM without KVM_CAP_MP_STATE: status 77"
like "$ERR" 'cannot report its vCPUs. states \(no KVM_CAP_MP_STATE\)' "... and says why"
run_fake_kvm max-vcpus-2 ./step12 --cpus 4
is "$STATUS" 77 "a KVM of 2 vCPUs at most, --cpus 4: status 77"
like "$ERR" 'gives a VM at most 2 vCPUs \(KVM_CAP_MAX_VCPUS\), not the$' "... and says why"

# cpus_run N: step 12 with N CPUs, its own guest, under the lock.
# The checks: status 0; a greeting from every CPU, in order (CPU 0
# starts each AP and waits for it); the guest's count and the host's;
# each vCPU's MP states, from its creation to the end. (The watchdog at
# 50 s: kvm_pvm emulates lock cmpxchg, a fraction of a millisecond each,
# and takes about 10 s for 4 CPUs; the lab, one.)
# What step 12 adds when an AP's thread did not see INIT_RECEIVED.
AP_INIT_UNSEEN='\(INIT and SIPI both came before its thread looked\)'
cpus_run() {
	local n=$1 cpu greetings expected=$(($1 * 5000))
	run ./step12 --cpus "$n" --timeout 50
	unsupported 8 && return 0
	is "$STATUS" 0 "--cpus $n: status 0"
	greetings=$(printf '%s\n' "$OUT" | sed -n 's/^cpu \([0-9]\): up, APIC ID \([0-9]\), .*/\1=\2/p' | tr '\n' ' ')
	is "$greetings" "$(for ((cpu = 0; cpu < n; cpu++)); do printf '%d=%d ' $cpu $cpu; done)" \
		"--cpus $n: every CPU greets, with its own APIC ID, in order"
	like "$OUT" "^cpu 0: the counter is $expected, $n x 5000: none lost$" \
		"--cpus $n: the guest counts $n x 5000 under the lock"
	like "$OUT" "^step12: the counter is $expected = $n CPUs? x 5000: no update lost$" \
		"--cpus $n: ... and the host finds the same"
	like "$OUT" "^step12: $n CPUs? started, 42 in memory, the count checked: the guest ran as it should$" \
		"--cpus $n: the host's checks pass"
	like "$OUT" '^step12: cpu 0: KVM_MP_STATE_RUNNABLE; at the end KVM_MP_STATE_HALTED, IF 0, ' \
		"--cpus $n: the BSP was RUNNABLE from the start, HALTED with IF 0 at the end"
	if [ "$n" = 1 ]; then
		unlike "$OUT" '^step12: cpu 1' "--cpus 1: no cpu 1"
		unlike "$OUT" 'INIT, SIPI, SIPI' "--cpus 1: no start-up IPIs"
		return 0
	fi
	# Its thread sees INIT_RECEIVED unless the SIPI, 10 ms later, came
	# before it looked (a busy host): then the step says so.
	matches "$OUT" "^step12: cpu [1-9]: KVM_MP_STATE_UNINITIALIZED -> (KVM_MP_STATE_INIT_RECEIVED -> KVM_MP_STATE_RUNNABLE|KVM_MP_STATE_RUNNABLE $AP_INIT_UNSEEN); at the end KVM_MP_STATE_HALTED, IF 0, "
	is "$MATCHES" $((n - 1)) "--cpus $n: each AP went UNINITIALIZED -> INIT_RECEIVED -> RUNNABLE, and HALTED with IF 0 at the end"
	matches "$OUT" '^step12: cpu [1-9]: KVM_MP_STATE_UNINITIALIZED: it waits for INIT, then a SIPI$'
	is "$MATCHES" $((n - 1)) "--cpus $n: before the run, each AP waits for INIT and a SIPI"
}
cpus_run 1
cpus_run 2
cpus_run 4

# The default is 2 CPUs; the start-up, as the guest tells it.
run ./step12
if ! unsupported 4; then
	is "$STATUS" 0 "step12 (2 CPUs by default): status 0"
	like "$OUT" '^cpu 0: INIT, SIPI, SIPI to cpu 1 \(vector 0x08: the trampoline at 0x8000\)$' \
		"CPU 0 wakes CPU 1 with INIT, SIPI, SIPI, the trampoline's page as the vector"
	like "$OUT" '^cpu 1: up, APIC ID 1, stack top 0x1fc000: real mode at 0x8000, then protected, then long mode$' \
		"CPU 1 comes up through real and protected mode, on its own stack"
	like "$OUT" '^cpu 0: go: an IPI to every other CPU$' "CPU 0 starts the count with an IPI to the others"
fi

# Without the lock: updates are lost, never gained. How many depends on
# when the other CPUs, or the host's scheduler, come in between a CPU's
# read and its write, so each CPU must count for longer than a time
# slice, or than the few microseconds between the CPUs' starts:
#   - in the lab the vCPUs take turns on one CPU: a CPU adds a few
#     thousand in less than the host's time slice, and loses nothing; a
#     million, over many slices, loses many (each switch in the middle of
#     an addition loses all the others made meanwhile);
#   - kvm_pvm emulates the guest's kernel code, about 1 us an
#     instruction: 20,000 additions take tens of milliseconds;
#   - a hardware KVM adds at the processor's speed, a million in a
#     few milliseconds at most: ten million.
iterations=10000000
[ "${KVM_LAB:-0}" != 1 ] || iterations=1000000
! linux_boot_too_slow || iterations=20000
run ./step12 --cpus 4 --no-lock --iterations $iterations
if ! unsupported 3; then
	is "$STATUS" 0 "--cpus 4 --no-lock: status 0"
	like "$OUT" "^cpu 0: 4 CPUs up; each adds 1 to the counter $iterations times, without the lock\$" \
		"... the guest counts without the lock"
	like "$OUT" "^step12: the counter is [0-9]+, not 4 x $iterations = $((4 * iterations)): [0-9]+ updates lost without\$" \
		"... and loses updates, which the host reports"
	diag "$(printf '%s\n' "$OUT" | grep '^step12: the counter')"
fi

# The trace: each exit with its vCPU; each MP state as its thread sees
# it; the local APIC's page is mapped and answered by KVM, not us.
run ./step12 --trace --iterations 100
if ! unsupported 5; then
	is "$STATUS" 0 "--trace: status 0"
	like "$ERR" "^\\[trace\\] cpu 1: (KVM_MP_STATE_INIT_RECEIVED: it took INIT: reset, it waits for a SIPI|KVM_MP_STATE_RUNNABLE: it runs $AP_INIT_UNSEEN)\$" \
		"the trace shows CPU 1 after its INIT"
	like "$ERR" "^\\[trace\\] cpu 1 KVM_EXIT_IO +rip 0x[0-9a-f]+  out port 0x3f8 size 1 count 1 data 0x63 'c'  uart THR$" \
		"the exits of CPU 1 are its own (its greeting's first byte)"
	like "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0xfee00000 -> physical 0xfee00000$' \
		"the local APIC's page is mapped"
	unlike "$ERR" 'KVM_EXIT_MMIO .* at 0xfee' "no exit for the local APIC's registers: KVM answers them"
fi

# A guest of yours that halts on CPU 0 without starting the others: the
# APs wait for a SIPI nobody will send, and the run ends (status 0).
printf '\xfa\xf4' >"$SCRATCH/cli-hlt.bin"
run ./step12 --cpus 3 --guest "$SCRATCH/cli-hlt.bin"
if ! unsupported 3; then
	is "$STATUS" 0 "cli; hlt on CPU 0, 3 vCPUs: status 0"
	like "$OUT" '^step12: the guest halted: every vCPU halted with interrupts off, or waits for a SIPI$' \
		"... the run ends: nothing can wake anyone"
	matches "$OUT" '^step12: cpu [12]: KVM_MP_STATE_UNINITIALIZED; at the end KVM_MP_STATE_UNINITIALIZED, '
	is "$MATCHES" 2 "... CPUs 1 and 2 never started"
fi

# A CPU read idle, then woken, that runs on without an exit while the
# other goes idle (tests/guests/smp-late-wake.c: CPU 1, started late,
# counts half a second in real mode): the run ends only once it halts,
# seen so while no vCPU runs. Ending on each thread's last reading, it
# ended early in 5 runs of 6 on kvm_pvm; three runs here.
for run_number in 1 2 3; do
	run ./step12 --guest $G/smp-late-wake.elf
	unsupported 3 && continue
	is "$STATUS" 0 "smp-late-wake, run $run_number: status 0"
	like "$OUT" '^cpu 1: counted half a second in real mode, without an exit$' \
		"... the run lasts until CPU 1 has counted and said so"
	like "$OUT" '^step12: cpu 1: .*; at the end KVM_MP_STATE_HALTED, IF 0, ' "... and CPU 1 ends halted"
done

# The watchdog stops every vCPU and reports each (hostile, in lib.sh:
# status 1, the reason and a detail, within the watchdog's time).
# after_hostile COUNT: after hostile, whether its run could go on to
# COUNT more tests; if the step exited 77 (hostile skipped or failed
# it), those are skipped (natively) or failed (in the lab) too.
after_hostile() { ! unsupported "$1"; }
# smp-deadlock makes some 680 exits (its greetings) and starts an AP
# before the two deadlock: a busy lab can take more than the usual
# 0.5 s over that (the watchdog would find a CPU still running), so 3 s.
WATCHDOG=3 LIMIT_MS=8000 hostile step12 $G/smp-deadlock.elf "$TIMEOUT" \
	'^step12: cpu 1: KVM_MP_STATE_HALTED, IF 1, rip 0x[0-9a-f]+: it sleeps in hlt$'
if after_hostile 2; then
	like "$ERR" '^step12: cpu 0: KVM_MP_STATE_HALTED, IF 1, rip 0x[0-9a-f]+: it sleeps in hlt$' \
		"smp-deadlock: CPU 0 sleeps too"
	matches "$ERR" '^  Its local APIC has nothing pending: it waits for an interrupt that$'
	is "$MATCHES" 2 "smp-deadlock: both wait for an interrupt no CPU sends"
fi
hostile step12 $H/long-smp-init-only.bin "$TIMEOUT" \
	'^step12: cpu 1: KVM_MP_STATE_INIT_RECEIVED, IF 0, rip 0xfff0: it took INIT: reset, it waits for a SIPI$'
after_hostile 1 && like "$ERR" '^  It took INIT, and no SIPI came after it\.$' "long-smp-init-only: ... and the report says so"
hostile step12 $H/long-smp-sipi-loop.bin "$TIMEOUT" \
	'^step12: cpu 1: KVM_MP_STATE_RUNNABLE, IF 0, rip 0x0: it runs$'
after_hostile 1 && like "$ERR" '^  code at 0x9000: eb fe ' "long-smp-sipi-loop: CPU 1 loops in real mode at 0x9000"
hostile "step12 --cpus 3" $H/long-loop.bin "$TIMEOUT"
if after_hostile 1; then
	matches "$ERR" '^  It never started: no CPU sent it INIT \(and then a SIPI\)\.$'
	is "$MATCHES" 2 "long-loop, 3 vCPUs: CPUs 1 and 2 never started"
fi

# The guest's image must leave the trampoline's page (0x8000) alone.
end=$(nm -n build/guest/smp64.elf | awk '$2 ~ /^[bBdDrRtT]$/ { last = $1 } END { print last }')
ok "$(((16#${end:-ffffff}) < 0x8000 ? 0 : 1))" "the guest's image ends below the trampoline's page (0x${end:-?})"

plan "$TEST_NUMBER"
finish
