# check.sh for 10-high-memory, sourced by exercises/ex.sh (see its
# helpers). First what needs no guest (--memory's new limit), then the
# probe (probe.S, built beside the program as guest.bin), a one-page
# bzImage that prints the e820 map and the initramfs's place from the
# zero page: a fraction of a second, on any KVM. Then, once both are
# right, Linux with 4 GiB: a boot of about 30 s in the lab, which a KVM
# that emulates the guest kernel (kvm_pvm) cannot give at speed: there
# the check says SKIP.

# The probe's lines: the zero page's e820 map, with --memory 4096 (3 GiB
# below the PCI hole, 1 GiB above 4 GiB) and with the default 256 MiB,
# then the initramfs (64 KiB) at the top of the RAM below 4 GiB: the
# probe's initrd_addr_max is 0xffffffff, which would allow it in the hole.
MAP_START='probe: e820: [mem 0x0000000000000000-0x000000000009fbff] usable
probe: e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved'
MAP_4096="$MAP_START
probe: e820: [mem 0x0000000000100000-0x00000000bfffffff] usable
probe: e820: [mem 0x0000000100000000-0x000000013fffffff] usable
probe: initramfs: [mem 0x00000000bfff0000-0x00000000bfffffff]"
MAP_256="$MAP_START
probe: e820: [mem 0x0000000000100000-0x000000000fffffff] usable
probe: initramfs: [mem 0x000000000fff0000-0x000000000fffffff]"

# probe ARGS...: run the probe with a stand-in initramfs of 64 KiB (the
# probe only asks where it is); its lines in PROBE.
probe() {
	[ -f "$WORK/initrd.bin" ] || printf '%65536s' '' >"$WORK/initrd.bin"
	run_program --kernel "${PROGRAM%/*}/guest.bin" --initrd "$WORK/initrd.bin" --timeout 10 "$@"
	PROBE=$(printf '%s\n' "$OUT" | grep '^probe: ' || true)
}

check() {
	local total= verdict

	run_program --kernel "${PROGRAM%/*}/guest.bin" --initrd "${PROGRAM%/*}/guest.bin" --memory 8193
	expect_status 2 "--memory 8193: refused, before any VM (exit status 2)"
	expect_line "$ERR" 'wants a number of MiB from 64 to 8192, not "8193"' \
		"... saying that --memory goes from 64 to 8192 MiB"

	probe --memory 4096
	expect_status 0 "the probe (--kernel guest.bin) with --memory 4096 runs and halts (exit status 0)"
	expect_equal "$PROBE" "$MAP_4096" \
		"its e820 map: RAM to 3 GiB, then 1 GiB from 4 GiB; the initramfs at the top of the RAM below 4 GiB"
	probe
	expect_status 0 "the probe with 256 MiB (the default) (exit status 0)"
	expect_equal "$PROBE" "$MAP_256" "its e820 map is step 10's: one range from 1 MiB, nothing at 4 GiB"
	# The starting files refuse 4096 MiB: no boot for them.
	[ "$FAILED" = 0 ] || return 0

	boot_linux_here || return 0
	EX_TIMEOUT=300 run_program --kernel "$KERNEL" --initrd "$INITRD" --memory 4096 --timeout 200
	# Linux's serial console ends its lines with "\r\n" (the tty's ONLCR).
	OUT=${OUT//$'\r'/}
	expect_status 0 "Linux boots with --memory 4096 and powers off (exit status 0)"
	expect_line "$OUT" '^step10-init: e820: BIOS-e820: \[mem 0x0000000000100000-0x00000000bfffffff\] usable$' \
		"/init: Linux's e820 map has the RAM from 1 MiB to 3 GiB"
	expect_line "$OUT" '^step10-init: e820: BIOS-e820: \[mem 0x0000000100000000-0x000000013fffffff\] usable$' \
		"... and the GiB from 4 GiB"
	[[ $OUT =~ step10-init:\ memory:\ ([0-9]+)\ kB\ total ]] && total=${BASH_REMATCH[1]}
	verdict="MemTotal ${total:-?} kB"
	if [ -n "$total" ] && ((total > 3 * 1024 * 1024)); then
		verdict="above 3 GiB: $verdict"
	fi
	expect_line "$verdict" '^above 3 GiB: ' \
		"Linux uses the RAM above 4 GiB: /proc/meminfo's MemTotal is above 3 GiB, more than the RAM below 4 GiB"
}
