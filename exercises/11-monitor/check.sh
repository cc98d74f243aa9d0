# check.sh for 11-monitor, sourced by exercises/ex.sh (see its helpers).
# One gdb session (gdb_session): gdb reads the guest's page tables with
# x/gx, changes some (new entries that map pages of the guest at new
# addresses, one through a table of 4 KiB pages, one to a table outside
# the guest's memory), and asks for walks at random addresses; each walk
# is compared, line for line, with the walk this script makes of the
# same tables. gdb reading the same bytes at a new address and at the
# old one shows that the processor's walk (KVM_TRANSLATE) agrees.

# The tables as gdb read and wrote them: TABLE[physical address] = entry.
declare -A TABLE

# entry ADDR: the value gdb printed for x/gx ADDR, as 0x... (empty if none).
entry() {
	if [[ $GDB_OUT =~ (^|$'\n')$1( <[^>]*>)?:[[:space:]]+0x([0-9a-f]+) ]]; then
		printf '0x%x\n' "$((16#${BASH_REMATCH[3]}))"
	fi
}

# walk VIRT: the walk of VIRT as the README says it is printed, through
# TABLE (an entry not in it is 0), CR3 0x100000 and 2 MiB of memory.
walk() {
	local virt=$(($1)) table=0x100000 n shift index at e page mask
	local -a level=(PML4 PDPT PD PT) size=('' '1 GiB' '2 MiB' '4 KiB')
	printf '0x%x: CR3 = 0x100000\n' "$virt"
	if (((virt << 16) >> 16 != virt)); then
		echo "  not canonical"
		return
	fi
	for n in 0 1 2 3; do
		shift=$((39 - 9 * n))
		index=$(((virt >> shift) & 511))
		at=$((table + 8 * index))
		if ((at + 8 > 0x200000)); then
			printf '  %s[%d] at 0x%x: outside the guest'"'"'s memory\n  not mapped\n' "${level[n]}" "$index" "$at"
			return
		fi
		e=$((${TABLE[$(printf '0x%x' "$at")]:-0}))
		if ((!(e & 1))); then
			printf '  %s[%d] at 0x%x: 0x%x, not present\n  not mapped\n' "${level[n]}" "$index" "$at" "$e"
			return
		fi
		if ((n == 3 || (n > 0 && (e & 0x80)))); then
			mask=$(((1 << shift) - 1))
			page=$((e & 0x000ffffffffff000 & ~mask))
			printf '  %s[%d] at 0x%x: 0x%x, %s page at 0x%x\n  physical 0x%x\n' "${level[n]}" \
				"$index" "$at" "$e" "${size[n]}" "$page" "$((page | (virt & mask)))"
			return
		fi
		table=$((e & 0x000ffffffffff000))
		printf '  %s[%d] at 0x%x: 0x%x, table at 0x%x\n' "${level[n]}" "$index" "$at" "$e" "$table"
	done
}

# walk_output VIRT: the lines gdb printed for "monitor walk VIRT": the
# first line with "VIRT: " (from there: gdb prints the stub's output on
# another stream than its own, and may have left a line of its own
# unfinished), and the lines after it that start with two spaces.
walk_output() {
	printf '%s\n' "$GDB_OUT" | awk -v head="$(printf '0x%x: ' "$(($1))")" '
		index($0, head) && !on { on = 1; print substr($0, index($0, head)); next }
		on && /^  / { print; next }
		on { exit }'
}

check() {
	# Random indexes and addresses, so that no walk can be known ahead.
	# (PML4 entries 1 to 255 are empty, and map canonical addresses.)
	local n=$((2 + RANDOM % 100)) n2=$((102 + RANDOM % 50)) absent=$((152 + RANDOM % 100))
	local k=$((1 + RANDOM % 511)) low=$((0x1000 + RANDOM * 61 % 0x1ff000))
	local page=$(((1 + RANDOM % 0x1ff) << 12)) off=$((RANDOM % 0x1000))
	local alias=$(((n << 39) + low)) small=$((0x200000 + (k << 12) + off))
	local addr expected got

	gdb_session -- 'x/gx 0x100000' 'x/gx 0x100ff8' 'x/gx 0x101000' 'x/gx 0x102ff0' 'x/gx 0x103000' \
		"monitor walk $(printf '0x%x' "$low")" \
		"monitor walk $(printf '0x%x' $((0xffffffff80000000 + low)))" \
		"set {unsigned long}$(printf '0x%x' $((0x100000 + 8 * n))) = *(unsigned long *)0x100000" \
		"monitor walk $(printf '0x%x' "$alias")" \
		"x/8xb $(printf '0x%x' "$alias")" "x/8xb $(printf '0x%x' "$low")" \
		'set {unsigned long}0x103008 = 0x105003' \
		"set {unsigned long}$(printf '0x%x' $((0x105000 + 8 * k))) = $(printf '0x%x' $((page | 3)))" \
		"monitor walk $(printf '0x%x' "$small")" \
		"monitor walk $(printf '0x%x' $((0x40000000 + off)))" \
		"monitor walk $(printf '0x%x' $((absent << 39)))" \
		"set {unsigned long}$(printf '0x%x' $((0x100000 + 8 * n2))) = 0x300003" \
		"monitor walk $(printf '0x%x' $(((n2 << 39) + 0x1025)))" \
		'monitor walk 0x800000001000' 'monitor walk 0xffff800000001000' \
		'monitor walk nowhere' continue
	expect_status 0 "a gdb session of walks, then continue: the guest ends with its 42 (exit status 0)"
	expect_line "$GDB_OUT" '^\[Inferior 1 \(Remote target\) exited with code 052\]$' \
		"... gdb sees it exit with 42 (052): the walks changed nothing for the guest"

	TABLE=()
	for addr in 0x100000 0x100ff8 0x101000 0x102ff0 0x103000; do
		TABLE[$addr]=$(entry "$addr")
	done
	if [ -z "${TABLE[0x100000]}" ] || [ -z "${TABLE[0x103000]}" ]; then
		fail "gdb reads the page tables (x/gx 0x100000 ...)" "their entries" "$GDB_OUT"
		return
	fi
	expected=$(walk "$low")
	expect_equal "$(walk_output "$low")" "$expected" \
		"monitor walk $(printf '0x%x' "$low"): PML4, PDPT, a 2 MiB page in the PD"
	addr=$((0xffffffff80000000 + low))
	expect_equal "$(walk_output "$addr")" "$(walk "$addr")" \
		"monitor walk $(printf '0x%x' "$addr"): the high half, PML4 entry 511, PDPT entry 510"

	TABLE[$(printf '0x%x' $((0x100000 + 8 * n)))]=${TABLE[0x100000]}
	expect_equal "$(walk_output "$alias")" "$(walk "$alias")" \
		"monitor walk $(printf '0x%x' "$alias"), after gdb set PML4 entry $n as entry 0: the walk goes through entry $n"
	got=$(printf '%s\n' "$GDB_OUT" | grep -E '^0x[0-9a-f]+( <[^>]*>)?:(\s+0x[0-9a-f]{2}){8}$' |
		sed -E 's/^[^:]*://' | uniq | wc -l)
	expect_equal "$got" 1 "... and gdb reads there the 8 bytes it reads at $(printf '0x%x' "$low"): KVM_TRANSLATE agrees"

	TABLE[0x103008]=0x105003
	TABLE[$(printf '0x%x' $((0x105000 + 8 * k)))]=$(printf '0x%x' $((page | 3)))
	expect_equal "$(walk_output "$small")" "$(walk "$small")" \
		"monitor walk $(printf '0x%x' "$small"), after gdb set PD entry 1 to a table of 4 KiB pages: four levels"
	addr=$((0x40000000 + off))
	expect_equal "$(walk_output "$addr")" "$(walk "$addr")" \
		"monitor walk $(printf '0x%x' "$addr"): PDPT entry 1 is not present"
	addr=$((absent << 39))
	expect_equal "$(walk_output "$addr")" "$(walk "$addr")" \
		"monitor walk $(printf '0x%x' "$addr"): PML4 entry $absent is not present"
	TABLE[$(printf '0x%x' $((0x100000 + 8 * n2)))]=0x300003
	addr=$(((n2 << 39) + 0x1025))
	expect_equal "$(walk_output "$addr")" "$(walk "$addr")" \
		"monitor walk $(printf '0x%x' "$addr"), PML4 entry $n2 set to a table at 0x300000: outside the guest's memory, not followed"
	expect_equal "$(walk_output 0x800000001000)" "$(walk 0x800000001000)" \
		"monitor walk 0x800000001000: not canonical"
	expect_equal "$(walk_output 0xffff800000001000)" "$(walk 0xffff800000001000)" \
		"monitor walk 0xffff800000001000: canonical (the high half's start), PML4 entry 256 not present"
}
