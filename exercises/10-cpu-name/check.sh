# check.sh for 10-cpu-name, sourced by exercises/ex.sh (see its helpers).
# First the probe (probe.S, built beside the program as guest.bin), a
# one-page bzImage that prints what CPUID answers: a fraction of a
# second, on any KVM. Then, once the probe has seen the name, Linux: a
# boot of about 30 s in the lab, which a KVM that emulates the guest
# kernel (kvm_pvm) cannot give at speed: there the check says SKIP.

BRAND='KVM, step by step virtual CPU'

# brand_leaves TEXT: the probe's lines for leaves 0x80000002 to
# 0x80000004 holding TEXT, NUL-padded to 48 bytes: four bytes a
# register, the first in its bits 7:0.
brand_leaves() {
	local text=$1 leaf reg i byte word line code names=(eax ebx ecx edx)
	for leaf in 2 3 4; do
		line="probe: cpuid 0x8000000$leaf:"
		for reg in 0 1 2 3; do
			word=0
			for byte in 3 2 1 0; do
				i=$(((leaf - 2) * 16 + reg * 4 + byte))
				printf -v code %d "'${text:i:1}"
				word=$((word << 8 | code))
			done
			printf -v line '%s %s 0x%08x' "$line" "${names[reg]}" "$word"
		done
		printf '%s\n' "$line"
	done
}

check() {
	local guest=${PROGRAM%/*}/guest.bin probe max= verdict

	# The probe needs no initramfs, but step 10 wants one: any file will do.
	printf 'no initramfs: the probe never looks\n' >"$WORK/initrd.bin"
	run_program --kernel "$guest" --initrd "$WORK/initrd.bin" --timeout 10
	expect_status 0 "the probe (--kernel guest.bin) runs and halts (exit status 0)"
	probe=$(printf '%s\n' "$OUT" | grep '^probe: ' || true)
	[[ $probe =~ probe:\ cpuid\ 0x80000000:\ eax\ 0x([0-9a-f]{8}) ]] && max=${BASH_REMATCH[1]}
	verdict="leaf 0x80000000: eax 0x${max:-?}"
	if [ -n "$max" ] && ((0x$max >= 0x80000004 && 0x$max < 0x80000100)); then
		verdict="reaches: $verdict"
	fi
	expect_line "$verdict" '^reaches: ' \
		"the highest extended leaf (leaf 0x80000000's EAX) is 0x80000004 or more"
	expect_equal "$(printf '%s\n' "$probe" | grep -E '^probe: cpuid 0x8000000[234]:' || true)" \
		"$(brand_leaves "$BRAND")" \
		"leaves 0x80000002-0x80000004 hold \"$BRAND\", NUL-padded to 48 bytes, each register's low byte first"
	expect_line "$probe" "^probe: brand string: \"$BRAND\"\$" "... which the probe reads back as the name"
	# A wrong name (the starting files: KVM's, empty) needs no boot.
	[ "$FAILED" = 0 ] || return 0

	boot_linux_here || return 0
	EX_TIMEOUT=300 run_program --kernel "$KERNEL" --initrd "$INITRD" --timeout 200
	# Linux's serial console ends its lines with "\r\n" (the tty's ONLCR).
	OUT=${OUT//$'\r'/}
	expect_status 0 "Linux boots and powers off (exit status 0)"
	expect_line "$OUT" "^step10-init: cpu: $BRAND\$" \
		"/init prints the name, /proc/cpuinfo's model name: step10-init: cpu: $BRAND"
}
