# KVM, step by step: the top-level build.
#
#   make            build every step and guest
#   make stepN      build ./stepN (from step 3 on, with the test guests
#                   the book runs it with: tests/tests.mk)
#   make help       everything else
#
# Outputs go to build/ and ./stepN (git-ignored). V=1 shows the commands,
# CC=clang works, WERROR=1 turns warnings into errors (CI does this).

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
# Keep the intermediate files (guest ELF and flat binaries): gdb wants them.
.SECONDARY:
.SUFFIXES:

CC      ?= cc
LD      ?= ld
OBJCOPY ?= objcopy
# Make's built-in default for CC is "cc"; keep it unless the user set one.
ifeq ($(origin CC),default)
CC := cc
endif

BUILD := build

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Host programs (the steps): C11 with GNU extensions, every warning we can
# afford. Learners get warnings, never errors: a newer compiler must not
# break step 1. CI sets WERROR=1.
WARNINGS := -Wall -Wextra
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
HOST_CFLAGS := -std=gnu11 -O2 -g $(WARNINGS) $(CFLAGS)
HOST_LDFLAGS := $(LDFLAGS)

# make SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer. The
# steps' objects go to a build directory of their own so the two builds
# never mix; the guests (freestanding, never sanitized) stay in build/,
# where the tests find them. ./stepN is linked from one or the other:
# STEP_LINKED names the last one, and is rewritten (as the Makefile is
# read: .SECONDARY would not remake a missing stamp) on a switch, which
# relinks the steps.
STEP_BUILD := $(BUILD)
STEP_FLAVOUR := $(if $(filter 1,$(SANITIZE)),sanitize,plain)
STEP_LINKED := $(BUILD)/steps-linked
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(STEP_LINKED) 2>/dev/null)" = $(STEP_FLAVOUR) ] || echo $(STEP_FLAVOUR) >$(STEP_LINKED); })
ifeq ($(SANITIZE),1)
STEP_BUILD := build/sanitize
HOST_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
HOST_LDFLAGS += -fsanitize=address,undefined
endif

# Guests: freestanding code, no libc, no startup files, no PIE, no stack
# protector, no red zone (an interrupt may arrive on the guest's stack).
# The guests are linked by ld itself with guest/guest.ld or guest/real16.ld.
GUEST_CFLAGS := -std=gnu11 -Os -g $(WARNINGS) -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-builtin \
	-mno-red-zone -mgeneral-regs-only -nostdlib -fcf-protection=none
GUEST_ASFLAGS := -g $(WARNINGS)

# The linker command for every guest (here, tests/tests.mk and
# exercises/exercises.mk). A guest with data (.data, .bss) links to one
# LOAD segment that is read, write and execute: binutils 2.39 and later
# warn about that unless told not to, and binutils before 2.39 (Debian 11,
# Ubuntu 22.04) reject the option that tells them. So ask ld, once.
LD_NO_RWX_WARNING := $(shell $(LD) --help 2>/dev/null | grep -q -- --no-warn-rwx-segments && echo --no-warn-rwx-segments)
GUEST_LD := $(LD) -nostdlib $(LD_NO_RWX_WARNING)

# In numeric order (step9 before step10): make run runs them so.
STEP_SOURCES := $(shell ls steps/step*.c | sort -V)
STEPS := $(patsubst steps/%.c,%,$(STEP_SOURCES))

# Which guests each step embeds. A guest named NAME is built from
# guest/NAME.S (16-bit or 32-bit assembly) or guest/NAME.c plus the
# variables below, and reaches the step as the symbols guest_NAME and
# guest_NAME_end (see guest/embed.S).
step4_GUESTS :=	real16
step5_GUESTS :=	hello32 boot16
step6_GUESTS :=	hello32
step7_GUESTS :=	hello64
step8_GUESTS :=	devices64
step9_GUESTS :=	interrupts64
step11_GUESTS := debug64
step12_GUESTS :=	smp64
step13_GUESTS :=	bench64
# Step 9's input thread: link with -pthread (and compile with it).
step9_LDLIBS := -pthread
step10_LDLIBS := -pthread
step12_LDLIBS := -pthread
step12_RUN_ARGS := --cpus 4
step13_RUN_ARGS := --short

# ---------------------------------------------------------------------------
# Guests: ELF with symbols (for gdb) and the flat binary the steps embed.

# 16-bit real-mode guests, linked for the load address by real16.ld.
$(BUILD)/guest/%.o: guest/%.S | $(BUILD)/guest
	@echo "  AS      $@"
	$(Q)$(CC) -m32 $(GUEST_ASFLAGS) -c -o $@ $<

$(BUILD)/guest/real16.elf: $(BUILD)/guest/real16.o guest/real16.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_i386 -T guest/real16.ld -o $@ $<

# C guests: one source, two objects. guest/NAME.c becomes NAME.32.o
# (-m32, for 32-bit protected mode) and NAME.64.o (-m64, for long mode).
$(BUILD)/guest/%.32.o: guest/%.c | $(BUILD)/guest
	@echo "  CC32    $@"
	$(Q)$(CC) -m32 $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/guest/%.64.o: guest/%.c | $(BUILD)/guest
	@echo "  CC64    $@"
	$(Q)$(CC) -m64 $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

# The C guests, linked for the load address by guest/guest.ld: hello32 and
# hello64 (steps 5 to 7), and boot16, step 5's real-mode boot loader with
# the 32-bit hello behind it. boot16 starts at its first byte, boot16_start
# (-e: its ELF file's entry, for --guest; guest.ld's ENTRY is the C _start).
$(BUILD)/guest/hello32.elf: $(BUILD)/guest/hello.32.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_i386 -T guest/guest.ld -o $@ $(filter %.o,$^)

$(BUILD)/guest/boot16.elf: $(BUILD)/guest/boot16.o $(BUILD)/guest/hello.32.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_i386 -T guest/guest.ld -e boot16_start -o $@ $(filter %.o,$^)

$(BUILD)/guest/hello64.elf: $(BUILD)/guest/hello.64.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_x86_64 -T guest/guest.ld -o $@ $(filter %.o,$^)

# Step 8's guest: drivers for the UART and the sysregs, 64-bit.
$(BUILD)/guest/devices64.elf: $(BUILD)/guest/devices.64.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_x86_64 -T guest/guest.ld -o $@ $(filter %.o,$^)

# Step 11's guest, the one to debug with gdb: 64-bit, low half only, so
# that its ELF file's addresses are the addresses it runs at.
$(BUILD)/guest/debug64.elf: $(BUILD)/guest/debug.64.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_x86_64 -T guest/guest.ld -o $@ $(filter %.o,$^)

# Step 9's guest: a small kernel (the IDT, the PIC, the PIT, the UART's
# interrupt; guest/interrupts.c and the entry points of guest/vectors.S)
# and the program it starts (guest/echo.c), 64-bit.
$(BUILD)/guest/%.64.o: guest/%.S | $(BUILD)/guest
	@echo "  AS64    $@"
	$(Q)$(CC) -m64 $(GUEST_ASFLAGS) -c -o $@ $<

$(BUILD)/guest/interrupts64.elf: $(BUILD)/guest/interrupts.64.o $(BUILD)/guest/vectors.64.o \
		$(BUILD)/guest/echo.64.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_x86_64 -T guest/guest.ld -o $@ $(filter %.o,$^)

# Step 12's guest: a small kernel for several CPUs (guest/smp.c: the
# IDT, the local APICs, starting the other CPUs, spinlocks), the real-mode
# trampoline the other CPUs start in (guest/trampoline.S), the entry
# points of guest/vectors.S, and the program every CPU runs
# (guest/counter.c), 64-bit.
$(BUILD)/guest/smp64.elf: $(BUILD)/guest/smp.64.o $(BUILD)/guest/trampoline.64.o \
		$(BUILD)/guest/vectors.64.o $(BUILD)/guest/counter.64.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_x86_64 -T guest/guest.ld -o $@ $(filter %.o,$^)

# Step 13's guest: the exits it measures, one loop each (guest/bench.S).
$(BUILD)/guest/bench64.elf: $(BUILD)/guest/bench.64.o guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m elf_x86_64 -T guest/guest.ld -o $@ $(filter %.o,$^)

# Every guest's flat binary is its ELF with the headers stripped: the bytes
# as they must lie in guest memory, starting at the load address.
$(BUILD)/guest/%.bin: $(BUILD)/guest/%.elf
	@echo "  OBJCOPY $@"
	$(Q)$(OBJCOPY) -O binary $< $@

# Embedding: one object per (step, guest) whose .rodata holds the flat
# binary between the symbols guest_NAME and guest_NAME_end. .incbin works
# on every binutils, unlike "ld -b binary" tricks.
$(BUILD)/embed/%.o: guest/embed.S $(BUILD)/guest/%.bin | $(BUILD)/embed
	@echo "  EMBED   $@"
	$(Q)$(CC) -c -o $@ -DGUEST_NAME=guest_$* -DGUEST_FILE='"$(BUILD)/guest/$*.bin"' $<

# ---------------------------------------------------------------------------
# Steps: one C file each, plus its embedded guests.

$(STEP_BUILD)/steps/%.o: steps/%.c | $(STEP_BUILD)/steps
	@echo "  CC      $@"
	$(Q)$(CC) $(HOST_CFLAGS) $($(*F)_LDLIBS) -MMD -MP -c -o $@ $<

.SECONDEXPANSION:
$(STEPS): %: $(STEP_BUILD)/steps/%.o $$(addprefix $(BUILD)/embed/,$$(addsuffix .o,$$($$*_GUESTS))) $(STEP_LINKED)
	@echo "  LINK    $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) $($@_LDLIBS)

$(BUILD)/guest $(BUILD)/embed $(sort $(BUILD)/steps $(STEP_BUILD)/steps):
	$(Q)mkdir -p $@

-include $(wildcard $(STEP_BUILD)/steps/*.d $(BUILD)/guest/*.d)

# ---------------------------------------------------------------------------
# The commands of DESIGN.md.

.PHONY: all run check deps clean help guests old-toolchain-check $(patsubst %,debug-%,$(STEPS))

all: $(STEPS) guests $(BUILD)/kvm-probe

ALL_GUESTS = $(sort $(foreach s,$(STEPS),$($(s)_GUESTS)))
guests: $(patsubst %,$(BUILD)/guest/%.elf,$(ALL_GUESTS)) $(patsubst %,$(BUILD)/guest/%.bin,$(ALL_GUESTS))

# Where guests run: on this machine's /dev/kvm when build/kvm-probe finds
# it usable (it opens, speaks API 12, creates a VM), else in the lab, after
# one line that says why. lab/auto decides, for every command below that
# runs a guest; LAB=1 forces the lab, LAB=0 this machine.
export LAB
$(BUILD)/kvm-probe: lab/kvm-probe.c
	@echo "  CC      $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 $(WARNINGS) $(CFLAGS) -o $@ $<

# Build and run every step in order, each under a one-line header. A step
# that exits 77 (this host's KVM cannot do it) does not stop the run.
# Step 10 needs arguments: the kernel and initramfs of make linux
# (step10_RUN_ARGS, linux/linux.mk; hence "=": it is defined later).
# Step 12 runs on four vCPUs, not its default two; step 13 measures in
# its short mode (make bench measures in full).
RUN_STEPS = for step in $(STEPS); do \
		printf "\n===== %s =====\n" "$$step"; \
		args=; [ $$step != step10 ] || args="$(step10_RUN_ARGS)"; \
		[ $$step != step12 ] || args="$(step12_RUN_ARGS)"; \
		[ $$step != step13 ] || args="$(step13_RUN_ARGS)"; \
		./$$step $$args; status=$$?; \
		if [ $$status -eq 77 ]; then echo "($$step skipped: this host'"'"'s KVM cannot run it)"; \
		elif [ $$status -ne 0 ]; then echo "$$step failed with status $$status"; exit 1; fi; \
	done
run: all
	$(Q)lab/auto cmd '$(RUN_STEPS)'

# The test suite: TAP scripts under tests/, run by prove on this machine's
# /dev/kvm, or in the lab (make lab-check) when there is no usable one.
PROVE ?= prove
PROVE_FLAGS ?=
export PROVE PROVE_FLAGS
check: all test-prereqs
	$(Q)lab/auto check

# Everything the tests run that is not a step (extended by other makefiles).
.PHONY: test-prereqs
test-prereqs:

# make debug-stepN: the step under gdb, stopped at its first KVM_RUN
# (ioctl request 0xae80), just before the vCPU enters the guest; in the
# lab, gdb runs on the lab's console, which is this terminal.
$(patsubst %,debug-%,$(STEPS)): debug-%: % $(BUILD)/kvm-probe
	$(Q)lab/auto tty "gdb -q -ex 'set breakpoint pending on' -ex 'break ioctl if \$$rsi == 0xae80' -ex run --args ./$*"

# make gdb-step11: ./step11 --gdb in the background and, in front, a gdb
# with the guest's symbols (its ELF file), connected to it: the guest
# waits at its first instruction (gdb retries the connection while the
# step probes its breakpoints). In the lab, both run on the lab's
# console, which is this terminal. GDB_PORT picks the port.
GDB_PORT ?= 1234
.PHONY: gdb-step11
gdb-step11: step11 $(BUILD)/kvm-probe
	$(Q)lab/auto tty "./step11 --gdb $(GDB_PORT) & gdb -q -ex 'target remote :$(GDB_PORT)' $(BUILD)/guest/debug64.elf; wait"

# Debian/Ubuntu packages the build, the tests, the lab and the book need.
# Idempotent: only what is missing is installed.
DEB_PACKAGES := make gcc clang binutils libc6-dev perl util-linux patch gdb valgrind \
	qemu-system-x86 busybox-static cpio xz-utils pandoc graphviz zip unzip gnuplot-nox
deps:
	$(Q)missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: everything is installed"; \
	else echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; fi

clean:
	rm -rf build $(STEPS)

# The whole build, warnings as errors, with Debian 11's gcc 10 and binutils
# 2.35 in a chroot it keeps in build/debian11 (as root; CI runs it).
old-toolchain-check:
	$(Q).ci/old-toolchain

# make help: these lines, then each part's own (lab, book, exercises,
# fuzz) from the help:: rules in their .mk files, then the options.
help::
	@echo 'KVM, step by step'
	@echo
	@echo '  make                 build every step and guest'
	@echo '  make stepN           build ./stepN (then run it: ./stepN --help) and, from step 3 on,'
	@echo '                       the broken guests of build/tests/guests/ to run it with'
	@echo '  make run             build and run every step in order (./step12 --cpus 4: four vCPUs,'
	@echo '                       ./step13 --short: quick measurements)'
	@echo '  make check           the whole test suite (on this machine'"'"'s /dev/kvm, else in the lab)'
	@echo '  make debug-stepN     ./stepN under gdb, stopped at its first KVM_RUN'
	@echo '  make gdb-step11      ./step11 --gdb and a gdb with the guest'"'"'s symbols, stopped at'
	@echo '                       the guest'"'"'s first instruction (GDB_PORT=1234): debug the guest'
	@echo '  make deps            install the packages the course needs (apt-get, as root)'
	@echo '  make clean           remove build/ and the ./stepN programs'
	@echo '  make old-toolchain-check  the build on Debian 11'"'"'s gcc 10 and binutils 2.35, in a chroot (as root)'

# Parts of the course with makefiles of their own (lab, book, exercises).
-include $(sort $(wildcard */*.mk))

help::
	@echo
	@echo 'Options: V=1 (show commands), CC=clang, WERROR=1, SANITIZE=1,'
	@echo '  LAB=1 (guests run in the lab) or LAB=0 (on this machine): without either,'
	@echo '  they run here when /dev/kvm is usable, else in the lab'
