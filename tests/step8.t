#!/usr/bin/env bash
# Step 8, devices: the golden output; the trace's exits through the
# device table (COM1's ports, the sysregs' addresses with every size);
# the UART's input from standard input, its end, and a guest that waits
# for input that never comes; an address and a port no device claims; a
# guest's power-off with an exit code; port 0xe9 retired.
. "$(dirname "$0")/lib.sh"
need_steps 8 8
plan 56

# clock_masked TEXT: TEXT with the seconds of the clock line replaced by
# N (they are the host's time): what tests/golden/step8.out holds.
clock_masked() {
	printf '%s\n' "$1" | sed 's/clock says [0-9][0-9]* s since 1970$/clock says N s since 1970/'
}

run ./step8
is "$STATUS" 0 "step8 exits 0"
golden "$(clock_masked "$OUT")" step8.out "step8 prints the golden output (the clock's seconds masked)"
# The clock is the host's: its seconds are the time now, to a second or two.
[[ $OUT =~ clock\ says\ ([0-9]+)\ s ]] && seconds=${BASH_REMATCH[1]} || seconds=0
now=$(date +%s)
ok "$(((seconds >= now - 5 && seconds <= now) ? 0 : 1))" \
	"the sysregs' CLOCK is the host's time ($seconds, now $now)"

run ./step8 --trace
is "$STATUS" 0 "step8 --trace exits 0"
# Every register of the UART, by its port, direction and name.
for exit in 'out port 0x3f8 .* uart THR' 'in port 0x3f8 .* uart RBR' 'out port 0x3f8 .* uart DLL' \
	'out port 0x3f9 .* uart DLM' 'out port 0x3f9 .* uart IER' 'in port 0x3f9 .* uart IER' \
	'out port 0x3fa .* uart FCR' 'in port 0x3fa .* uart IIR' 'out port 0x3fb .* uart LCR' \
	'out port 0x3fc .* uart MCR' 'in port 0x3fd .* uart LSR' 'in port 0x3fe .* uart MSR' \
	'out port 0x3ff .* uart SCR' 'in port 0x3ff .* uart SCR'; do
	like "$ERR" "^\\[trace\\] KVM_EXIT_IO +rip 0x[0-9a-f]+  $exit\$" "the trace shows $exit"
done
like "$ERR" "^\\[trace\\] KVM_EXIT_IO .* out port 0x3f8 size 1 count 1 data 0x48 'H'  uart THR$" \
	"... the H of Hello, through THR"
like "$ERR" "^\\[trace\\] KVM_EXIT_IO .* in port 0x3fa size 1 count 1 data 0xc1  uart IIR$" \
	"... IIR reads 0xc1: FIFOs on, nothing pending"
like "$ERR" "^\\[trace\\] KVM_EXIT_IO .* in port 0x3f8 size 1 count 1 data 0x6b 'k'  uart RBR$" \
	"... in loopback, the k written to THR comes back in RBR"
printed=$(printf '%s\n' "$OUT" | grep -v '^step8: ' | wc -c)
thr=$(printf '%s\n' "$ERR" | grep -c 'uart THR$')
is "$thr" "$((printed + 3 + 17))" "one THR exit per byte printed ($printed), 3 echoed and 17 for the overrun in loopback"
unlike "$ERR" 'port 0xe9' "port 0xe9 is not used any more"
# The sysregs: reads and writes of 1, 2, 4 and 8 bytes, by address and name.
for access in 'read 1 bytes at 0xd0000000 data 0x4b  sysregs ID' 'read 2 bytes at 0xd0000000 data 0x564b  sysregs ID' \
	'read 4 bytes at 0xd0000000 data 0x534d564b  sysregs ID' 'read 8 bytes at 0xd0000000 data 0x38504554534d564b  sysregs ID' \
	'write 8 bytes at 0xd0000010 data 0x0123456789abcdef  sysregs SCRATCH' 'write 1 bytes at 0xd0000011 data 0x11  sysregs SCRATCH' \
	'write 2 bytes at 0xd0000012 data 0x2222  sysregs SCRATCH' 'write 4 bytes at 0xd0000014 data 0x33333333  sysregs SCRATCH' \
	'read 8 bytes at 0xd0000010 data 0x33333333222211ef  sysregs SCRATCH' 'read 8 bytes at 0xd0000008 data 0x[0-9a-f]{16}  sysregs CLOCK' \
	'write 1 bytes at 0xd0000018 data 0x00  sysregs POWER_OFF'; do
	like "$ERR" "^\\[trace\\] KVM_EXIT_MMIO +rip 0x[0-9a-f]+  $access\$" "the trace shows the MMIO $access"
done
like "$ERR" '^\[trace\] KVM_TRANSLATE virtual 0xd0000000 -> physical 0xd0000000$' "the page tables map the sysregs at their own address"

# Standard input reaches the guest through the UART's receive FIFO.
printf 'hi\nthere\n' >"$SCRATCH/two-lines"
run sh -c "./step8 <'$SCRATCH/two-lines'"
is "$STATUS" 0 "two lines of input: status 0"
like "$OUT" '^You typed 2 bytes: HI$' "... the guest answers the first"
like "$OUT" '^You typed 5 bytes: THERE$' "... and the second"
like "$OUT" '^The input is closed \(the host dropped DCD, carrier detect\): goodbye\.$' \
	"... then sees the input end (DCD)"
# More than the FIFO's 16 bytes at once, from a pipe, and a last line with no newline.
run sh -c "printf '%s\\nend' 0123456789abcdefghijklmnopqrstuvwxyz | ./step8"
like "$OUT" '^You typed 36 bytes: 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$' "36 bytes through a 16-byte FIFO, none lost"
like "$OUT" '^You typed 3 bytes: END$' "... and a last line without a newline"
run sh -c "./step8 <&-"
is "$STATUS" 0 "standard input closed: status 0"
like "$OUT" '^The input is closed ' "... the guest sees no carrier"

# A writer that never writes nor closes: the guest gives up after 5 s
# by the sysregs' clock, before the watchdog's 10 s.
mkfifo "$SCRATCH/never"
sleep 15 >"$SCRATCH/never" &
writer=$!
start=${EPOCHREALTIME/./}
timeout 20 ./step8 <"$SCRATCH/never" >"$SCRATCH/idle.out" 2>"$SCRATCH/idle.err"
STATUS=$?
kill "$writer" 2>/dev/null
elapsed=$(((${EPOCHREALTIME/./} - start) / 1000))
read_text "$SCRATCH/idle.out" OUT
is "$STATUS" 0 "input that never comes: status 0"
like "$OUT" '^Nothing came for 5 s: goodbye\.$' "... the guest gives up by itself"
ok "$(((elapsed >= 4900 && elapsed < 9000) ? 0 : 1))" "... after 5 s ($elapsed ms)"

# Ends that are not the guest's own.
run ./step8 --guest build/tests/guests/mmio-unclaimed64.bin --timeout 5
is "$STATUS" 1 "a read no device claims: status 1"
like "$ERR" '^step8: the guest stopped: KVM_EXIT_MMIO$' "... KVM_EXIT_MMIO"
like "$ERR" '^  read of 8 bytes at guest-physical 0xd0001000: no RAM there, and no$' "... where, and how many bytes"
like "$ERR" '^  code at 0x1005: 48 8b 00 ' "... the instruction at RIP (mov rax, [rax])"

run ./step8 --guest build/tests/guests/poweroff64.bin
is "$STATUS" 1 "a guest that powers off with exit code 3: status 1"
like "$OUT" '^step8: the guest powered off with exit code 3, ' "... the exit code reported"

run ./step8 --guest build/guest/hello64.elf --timeout 5
is "$STATUS" 1 "step 7's guest, which needs port 0xe9: status 1"
like "$ERR" '^  in from port 0xe9 \(size 1, count 1\): no device answers this port$' "... port 0xe9 is retired"

run ./step8 --guest build/guest/devices64.elf
is "$STATUS" 0 "the guest's ELF file runs through --guest"
like "$OUT" '^step8: the guest powered off with exit code 0, memory\[0x400\] = 42$' "... and is reported"

finish
