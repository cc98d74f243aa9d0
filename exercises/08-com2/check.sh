# check.sh for 08-com2, sourced by exercises/ex.sh (see its helpers). The
# exercise's guest, built beside the program (guest.bin), runs through
# --guest; step 8's own guest is still the embedded one.

# The exercise guest's line on COM2, and the number of bytes it sends
# there (its newline included): one out to THR each.
COM2_LINE='COM2: this line goes to standard error'

check() {
	local guest=${PROGRAM%/*}/guest.bin golden com2 thr

	run_program --guest "$guest"
	expect_status 0 "the exercise's guest powers off with exit code 0 (exit status 0)"
	expect_line "$ERR" "^$COM2_LINE\$" "COM2's line is on stderr"
	expect_no_line "$OUT" '^COM2: ' "... and not on stdout"
	expect_line "$OUT" '^COM1: this line goes to standard output$' "COM1's line is on stdout"
	expect_no_line "$ERR" '^COM1: ' "... and not on stderr"
	expect_line "$OUT" '^COM1 and COM2 keep a scratch register each: ok$' \
		"each UART has a scratch register of its own (0x11 on COM1, 0x22 on COM2)"

	# The mechanism: every access to ports 0x2f8-0x2ff is a KVM_EXIT_IO
	# that the device table gives to COM2, by the name of COM2's register.
	# (COM2's bytes share stderr with the trace: each comes just before
	# its exit's line.)
	run_program --trace --guest "$guest"
	expect_status 0 "with --trace too (exit status 0)"
	com2=$(printf '%s\n' "$ERR" | grep -E 'KVM_EXIT_IO .* port 0x2f[89a-f] ' || true)
	thr=$(printf '%s\n' "$com2" | grep -E "out port 0x2f8 size 1 count 1 data 0x[0-9a-f]{2} '.'  com2 THR$" || true)
	expect_count "$thr" . $((${#COM2_LINE} + 1)) \
		"the trace shows one out to port 0x2f8, com2 THR, per byte of COM2's line"
	expect_line "$thr" "data 0x43 'C'  com2 THR$" "... the first one the C of COM2"
	expect_line "$com2" 'in port 0x2fd size 1 count 1 data 0x60  com2 LSR$' \
		"the guest waits on COM2's LSR (port 0x2fd: THR empty)"
	expect_line "$com2" 'out port 0x2f8 size 1 count 1 data 0x0c  com2 DLL$' \
		"... and sets COM2's divisor, 12: port 0x2f8 is DLL while COM2's own DLAB is set"
	expect_line "$com2" 'in port 0x2ff size 1 count 1 data 0x22  com2 SCR$' \
		"... and reads 0x22 back from COM2's scratch register"

	# Step 8's guest, embedded, drives COM1 and the sysregs as before.
	run_program
	expect_status 0 "step 8's own guest still powers off with exit code 0 (exit status 0)"
	read_text "$ROOT/tests/golden/step8.out" golden
	expect_equal "$(printf '%s\n' "$OUT" |
		sed 's/clock says [0-9][0-9]* s since 1970$/clock says N s since 1970/')" "$golden" \
		"... and prints step 8's output (tests/golden/step8.out; the clock's seconds masked)"
	expect_equal "$ERR" "" "... with nothing on stderr"
}
