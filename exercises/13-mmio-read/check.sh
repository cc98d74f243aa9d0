# check.sh for 13-mmio-read, sourced by exercises/ex.sh (see its
# helpers). The program embeds the exercise's guest in place of step
# 13's own; the check reads its table, its trace and its device's counts.

FIGURES="run-immediate pio-user mmio-user mmio-read pio-kernel cpuid notify-user notify-ioeventfd vm-create vcpu-create memslot-2M memslot-128M memslot-1G"

check() {
	run_program --short --only mmio-read --trace
	expect_status 0 "--short --only mmio-read: exit status 0 (the guest kept the register's value, every batch)"
	expect_count "$ERR" '^\[trace\] KVM_EXIT_MMIO  read 4 bytes at 0xd0000000$' 500 \
		"500 reads of the register reach us (5 batches of 100)"
	expect_line "$OUT" ' 0 doorbells, 500 register reads$' "... and the device counts 500 register reads"
	expect_line "$OUT" '^mmio-read +us( +[0-9]+){6} +[0-9]+\.[0-9][0-9]$' \
		"the row of mmio-read: our ns, the guest's cycles, the ratio to the bare loop"

	run_program --short
	expect_status 0 "--short: exit status 0"
	expect_equal "$(bench_figures)" "$FIGURES " "every figure of step 13, with mmio-read after mmio-user"
	expect_line "$OUT" 'the device saw 500 port writes, 500 register writes, 500 doorbells, 500 register reads$' \
		"the device's counts: 500 of each"
}
