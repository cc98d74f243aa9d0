# bench/bench.mk: make bench, step 13's measurements (bench/bench.sh).
#
#   make bench                       every figure: build/bench/bench.txt,
#                                    bench.csv and bench.svg
#   make bench BENCH_ARGS=--short    a quick run (fewer repetitions)
#
# On this machine's KVM when it is usable, else in the lab (lab/auto):
# there the figures are slowed by QEMU's emulation, but their ratios
# still tell. The files are written here, whichever ran the step.
BENCH_ARGS ?=
BENCH_OUT ?= $(BUILD)/bench

.PHONY: bench
bench: step13 $(BUILD)/kvm-probe
	$(Q)bench/bench.sh --out $(BENCH_OUT) $(BENCH_ARGS)

help::
	@echo '  make bench           measure what KVM costs (step 13): the table, a CSV and a chart'
	@echo '                       in build/bench/ (BENCH_ARGS=--short: a quick run)'
