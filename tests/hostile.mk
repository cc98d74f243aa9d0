# tests/hostile.mk: the hostile guests, and make fuzz.
#
# Each tests/hostile/MODE-NAME.S is one small guest that does something a
# host must survive (a runaway loop, a flood of exits, a write over the
# page tables, a jump into nothing, ...). MODE says how a step starts it:
# real (steps 3 and 4), prot (32-bit protected mode: steps 5 and 6) or
# long (steps 7 to 9). Like tests/guests/, each is linked for 0x1000 and
# flattened to build/tests/hostile/NAME.bin; tests/hostile.t runs each
# through the steps of its mode and checks how the step says it ended.

HOSTILE_GUESTS := $(patsubst tests/hostile/%.S,$(BUILD)/tests/hostile/%.bin,$(wildcard tests/hostile/*.S))

# Built by the rules in tests/tests.mk; these guests also include the
# shared switch to protected mode.
$(HOSTILE_GUESTS:.bin=.o): tests/hostile/enter-pm32.inc tests/hostile/idt64.inc

test-prereqs: $(HOSTILE_GUESTS)

# make fuzz SEED=N COUNT=N: COUNT random guests (default 10000) from SEED
# (default 1) through every step that runs a guest; see tests/fuzz.pl.
# FUZZ_JOBS=N runs N at a time (default: one per CPU). A failing image is
# kept in build/fuzz-failures/ here; in the lab, whose view of build/ is
# read-only, the run prints how to make it again (--emit). The lab's time
# limit is off (LAB_TIMEOUT=0) unless given: the long run is long there.
.PHONY: fuzz
FUZZ_ARGS = --seed $(or $(SEED),1) --count $(or $(COUNT),10000) $(if $(FUZZ_JOBS),--jobs $(FUZZ_JOBS))
fuzz: all
	$(Q)LAB_TIMEOUT=$(or $(LAB_TIMEOUT),0) lab/auto cmd \
		'keep=; [ "$${KVM_LAB:-0}" = 1 ] || keep="--keep $(BUILD)/fuzz-failures"; tests/fuzz.pl $(FUZZ_ARGS) $$keep' 

help::
	@echo '  make fuzz SEED=1 COUNT=10000   random guests through every step: counts by exit reason'
