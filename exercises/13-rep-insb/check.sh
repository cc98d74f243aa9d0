# check.sh for 13-rep-insb, sourced by exercises/ex.sh (see its
# helpers). The program embeds the exercise's guest in place of step
# 13's own; the check reads its table, its trace and its device's counts.

FIGURES="run-immediate pio-user pio-rep mmio-user pio-kernel cpuid notify-user notify-ioeventfd vm-create vcpu-create memslot-2M memslot-128M memslot-1G"

check() {
	run_program --short --only pio-rep --trace
	expect_status 0 "--short --only pio-rep: exit status 0 (the guest received the port's message, every batch)"
	expect_count "$ERR" '^\[trace\] KVM_EXIT_IO  in port 0x500 size 1 count 16$' 500 \
		"500 exits of ours (5 batches of 100), each 16 bytes in from port 0x500 by one rep insb"
	expect_count "$ERR" '^\[trace\] KVM_EXIT_IO  in port 0x500 size 1 count 1$' 0 \
		"... and no single byte"
	expect_line "$OUT" ' 500 port reads \(8000 bytes\)$' "the device counts 500 reads of 8000 bytes"
	expect_line "$OUT" '^pio-rep +us( +[0-9]+){6} +[0-9]+\.[0-9][0-9]$' \
		"the row of pio-rep: our ns, the guest's cycles, the ratio to the bare loop"

	run_program --short
	expect_status 0 "--short: exit status 0"
	expect_equal "$(bench_figures)" "$FIGURES " "every figure of step 13, with pio-rep after pio-user"
	expect_line "$OUT" 'the device saw 500 port writes, 500 register writes, 500 doorbells, 500 port reads \(8000 bytes\)$' \
		"the device's counts: 500 of each kind, and 500 port reads of 8000 bytes"
}
