# check.sh for 11-watchpoint, sourced by exercises/ex.sh (see its helpers).
# Three gdb sessions (gdb_session), gdb's watchpoints left as they are,
# "hardware" ones: gdb asks the stub (Z2) and waits for its stop reply;
# it never single-steps the guest itself. The program's --trace-gdb
# lines show which packets went.

# packets_between FROM TO: the packets gdb sent (the lines "[gdb] <- X")
# after the first that is FROM, up to the stub's first reply that starts
# with TO.
packets_between() {
	printf '%s\n' "$ERR" | awk -v from="[gdb] <- $1" -v to="[gdb] -> \$$2" '
		$0 == from && !on { on = 1; next }
		on && index($0, to) == 1 { exit }
		on && /^\[gdb\] <- / && $0 != "[gdb] <- +" { print }'
}

check() {
	local store after

	# A watchpoint on the guest's result, at 0x400: the write in finish
	# stops the guest, just after the instruction that made it.
	gdb_session -- 'x/2i finish' 'watch *(int *)0x400' continue 'printf "rip %#lx\n", $pc' continue
	expect_status 0 "watch *(int *)0x400, continue, continue: the guest ends with its 42 (exit status 0)"
	expect_line "$ERR" '^\[gdb\] <- Z2,400,4$' "gdb asks the stub for the watchpoint: Z2,400,4"
	expect_line "$ERR" '^\[gdb\] -> \$T05watch:400;#[0-9a-f]{2}$' \
		"... the stub stops the guest with T05watch:400;"
	expect_equal "$(packets_between 'vCont;c' 'T05watch')" "" \
		"... and gdb sent nothing between its continue and that stop: no single-steps of its own"
	expect_line "$GDB_OUT" '^Hardware watchpoint 1: \*\(int \*\)0x400$' "gdb: Hardware watchpoint 1"
	expect_line "$GDB_OUT" '^New value = 42$' "... Old value = 0, New value = 42"
	# x/2i finish: the store, then the next instruction, where the
	# guest must stop (x86's data breakpoints stop after the access).
	store=$(printf '%s\n' "$GDB_OUT" | grep -m1 -E '^ *0x[0-9a-f]+ <finish>:' | awk '{ print $1 }')
	after=$(printf '%s\n' "$GDB_OUT" | grep -m1 -E '^ *0x[0-9a-f]+ <finish\+[0-9]+>:' | awk '{ print $1 }')
	expect_line "$GDB_OUT" "^rip ${after:-none}\$" \
		"... RIP is just past the store at finish (${store:-?}): ${after:-?}"
	expect_line "$GDB_OUT" '^\[Inferior 1 \(Remote target\) exited with code 052\]$' \
		"... and the second continue runs the guest to its end (exit code 052)"

	# A breakpoint on the way: stepping towards the write, the guest must
	# still stop at finish, before the store; the write stops it next.
	gdb_session -- 'break finish' 'watch *(int *)0x400' continue 'printf "rip %#lx\n", $pc' \
		continue continue
	expect_status 0 "break finish, watch *(int *)0x400: the guest ends with its 42 (exit status 0)"
	expect_line "$GDB_OUT" '^Breakpoint 1, finish \(' "the guest stops at finish's breakpoint first"
	expect_line "$GDB_OUT" "^rip ${store:-none}\$" "... before the store (RIP ${store:-?})"
	expect_line "$GDB_OUT" '^New value = 42$' "... then at the watchpoint: New value = 42"

	# spin is read by the guest, never written: a watchpoint on it never
	# stops the guest. A watchpoint removed at a stop (z2) and deleted
	# in gdb is gone: the write to 0x400 no longer stops the guest.
	gdb_session -- 'watch spin' 'watch *(int *)0x400' 'break main' continue 'delete 2' continue
	expect_status 0 "watch spin and 0x400, break main, delete 0x400's there: the guest ends with its 42"
	expect_line "$GDB_OUT" '^Breakpoint 3, main \(' "... through main's breakpoint"
	expect_line "$ERR" '^\[gdb\] <- z2,400,4$' "... where the stub was told to remove 0x400's watchpoint (z2,400,4)"
	expect_no_line "$ERR" 'T05watch' \
		"... and no watchpoint stops the guest: it reads spin, and writes to nothing watched any more"
	expect_line "$GDB_OUT" '^\[Inferior 1 \(Remote target\) exited with code 052\]$' \
		"... and gdb sees its end (exit code 052)"
}
