# tests/tests.mk: the guests the test suite runs through the steps.
#
# Each tests/guests/NAME.S is one small, deliberately broken guest (a
# triple fault, an endless loop, a port nobody answers, a bad GDT, an
# unmapped address, ...), linked like guest/real16.S for 0x1000 and
# flattened to build/tests/guests/NAME.bin, which tests pass to a step
# with --guest. Most are real-mode code; those for steps 5-7 say .code32
# or .code64 (the flat bytes are all that matter, so one link rule and
# 32-bit objects do for all of them).

TEST_GUESTS := $(patsubst tests/guests/%.S,$(BUILD)/tests/guests/%.bin,$(wildcard tests/guests/*.S))

# The rules for every guest under tests/ (this folder's guests/ and the
# hostile/ corpus of tests/hostile.mk): assemble as 32-bit objects (the
# folder is on the include path), link for 0x1000, flatten.
$(BUILD)/tests/%.o: tests/%.S
	@echo "  AS      $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -m32 $(GUEST_ASFLAGS) -I$(<D) -c -o $@ $<

$(BUILD)/tests/%.elf: $(BUILD)/tests/%.o guest/real16.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_i386 -T guest/real16.ld -o $@ $<

$(BUILD)/tests/%.bin: $(BUILD)/tests/%.elf
	$(Q)$(OBJCOPY) -O binary $< $@

# Step 9's exception guests: each tests/guests/fault-NAME.c is a
# guest_main() for guest/interrupts.c, the small kernel of step 9's
# guest, whose handlers report the exception it makes. 64-bit, linked
# like step 9's guest (an ELF file: ./step9 --guest
# build/tests/guests/fault-NAME.elf; the flat .bin works too).
FAULT_GUESTS := $(patsubst tests/guests/%.c,$(BUILD)/tests/guests/%.elf,$(wildcard tests/guests/fault-*.c))

$(BUILD)/tests/guests/fault-%.o: tests/guests/fault-%.c guest/interrupts.h
	@echo "  CC64    $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -m64 $(GUEST_CFLAGS) -Iguest -c -o $@ $<

$(BUILD)/tests/guests/fault-%.elf: $(BUILD)/tests/guests/fault-%.o $(BUILD)/guest/interrupts.64.o \
		$(BUILD)/guest/vectors.64.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_x86_64 -T guest/guest.ld -o $@ $(filter %.o,$^)

TEST_GUESTS += $(FAULT_GUESTS) $(FAULT_GUESTS:.elf=.bin)

# Step 12's test guests: each tests/guests/smp-NAME.c is the program
# (bsp_main and ap_main) for guest/smp.c, the small kernel of step 12's
# guest, linked with it as step 12's guest is (./step12 --guest
# build/tests/guests/smp-NAME.elf).
SMP_GUESTS := $(patsubst tests/guests/%.c,$(BUILD)/tests/guests/%.elf,$(wildcard tests/guests/smp-*.c))

$(BUILD)/tests/guests/smp-%.o: tests/guests/smp-%.c guest/smp.h
	@echo "  CC64    $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -m64 $(GUEST_CFLAGS) -Iguest -c -o $@ $<

$(BUILD)/tests/guests/smp-%.elf: $(BUILD)/tests/guests/smp-%.o $(BUILD)/guest/smp.64.o \
		$(BUILD)/guest/trampoline.64.o $(BUILD)/guest/vectors.64.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_x86_64 -T guest/guest.ld -o $@ $(filter %.o,$^)

TEST_GUESTS += $(SMP_GUESTS) $(SMP_GUESTS:.elf=.bin)

test-prereqs: test-guests

# The book runs steps 3 to 7 with these guests (./step4 --guest
# build/tests/guests/triple-fault.bin), so make stepN builds them too.
# Order-only, so that a changed test guest relinks no step; through a
# phony target, because .SECONDARY (Makefile) would not remake a missing
# order-only file.
.PHONY: test-guests
test-guests: $(TEST_GUESTS)
$(filter-out step1 step2,$(STEPS)): | test-guests

# Step 10 boots the kernel and initramfs of make linux (linux/linux.mk):
# tests/step10.t needs them, and so does a clean checkout's make check.
# make linux compiles nothing (it fetches a kernel, packs busybox): the
# old toolchain's chroot (.ci/old-toolchain), which has neither, leaves
# it out with TEST_LINUX=0.
ifneq ($(TEST_LINUX),0)
test-prereqs: linux
endif
