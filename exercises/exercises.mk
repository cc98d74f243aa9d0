# exercises/exercises.mk: the learner's commands for the exercises, and the
# rules that build one exercise out of tree. exercises/ex.sh does the work;
# see exercises/README.md.
#
#   make exercises                  progress: every exercise, PASS or not, a score
#   make exercise EX=04-decimal     build and check one exercise
#   make hint EX=04-decimal         its hint
#   make solution-diff EX=...       your work against the solution
#   make reset EX=...               back to the starting files (made anew
#                                   from the steps; yours saved first)

.PHONY: exercises exercise hint solution-diff reset exercise-build exercises-prebuild

exercises:
	$(Q)exercises/ex.sh progress

exercise hint solution-diff reset:
	$(Q)if [ -z "$(EX)" ]; then \
		echo "usage: make $@ EX=NN-name (make exercises lists them)" >&2; exit 2; fi
	$(Q)exercises/ex.sh $(subst exercise,check,$@) '$(EX)'

# tests/exercises.t checks each exercise's starting and solved files.
# Build them ahead, here on the host: in the lab (make lab-check) the
# compiler runs on an emulated CPU, seconds a file. build/exercises-ci/
# whatever BUILD is: the test looks there.
EX_NAMES := $(patsubst exercises/%/exercise.conf,%,$(wildcard exercises/*/exercise.conf))
test-prereqs: exercises-prebuild
exercises-prebuild: $(addprefix exercises-prebuild-,$(EX_NAMES))
# After the steps and their guests: an exercise links some of the step's
# embedded guests (EX_STEP_GUESTS), which its make would otherwise build
# at the same time as this one (make -j), each writing the same file.
$(addprefix exercises-prebuild-,$(EX_NAMES)): exercises-prebuild-%: all
	$(Q)exercises/ex.sh prepare $* build/exercises-ci/$*
.PHONY: $(addprefix exercises-prebuild-,$(EX_NAMES))

# ---------------------------------------------------------------------------
# make exercise-build EX_CONF=FILE EX_SRC=DIR EX_OUT=DIR: build the
# exercise whose files are in EX_SRC (the learner's exercises/NN-name, or
# starting files made elsewhere) into EX_OUT. EX_CONF (the exercise's
# exercise.conf; EX_SRC/exercise.conf if not given) says what to build:
#   EX_HOST       the host program's C file (a step, adapted)
#   EX_GUEST      the guest's sources: .S and .c files, assembled and
#                 compiled for EX_GUEST_ARCH, 32 (a real-mode guest says
#                 .code16 itself) or 64, and rebuilt when a .h file of the
#                 exercise changes; none if the guest is bytes in the
#                 host's C file, as in step 3, or the step's own
#   EX_GUEST_LD   the guest's linker script: a file in EX_SRC, or guest/...
#   EX_GUEST_CFLAGS  more flags for the guest's C files (e.g. -mcmodel=kernel)
#   EX_GUEST_SYMBOL  the symbol the host program knows the guest by, the
#                 step's (e.g. guest_real16); guest_exercise if not given
#   EX_STEP_GUESTS   the step's own embedded guests the host program also
#                 needs, by name (e.g. hello32: build/embed/hello32.o)
#   EX_LDLIBS     more for the host program's compile and link (step 9's
#                 input thread: -pthread)
# The guest's flat binary reaches the host program as the symbols
# EX_GUEST_SYMBOL and EX_GUEST_SYMBOL_end (guest/embed.S), as in the steps.
ifneq ($(EX_OUT),)
EX_CONF ?= $(EX_SRC)/exercise.conf
include $(EX_CONF)
EX_GUEST_ARCH ?= 32
EX_GUEST_SYMBOL ?= guest_exercise
EX_LD_SCRIPT := $(firstword $(wildcard $(EX_SRC)/$(EX_GUEST_LD)) $(EX_GUEST_LD))
EX_LD_EMU := $(if $(filter 64,$(EX_GUEST_ARCH)),elf_x86_64,elf_i386)
EX_GUEST_OBJS := $(patsubst %,$(EX_OUT)/guest-%.o,$(basename $(EX_GUEST)))
EX_PROGRAM := $(EX_OUT)/$(basename $(EX_HOST))

exercise-build: $(EX_PROGRAM)

$(EX_OUT)/guest-%.o: $(EX_SRC)/%.S | $(EX_OUT)/.dir
	@echo "  AS      $@"
	$(Q)$(CC) -m$(EX_GUEST_ARCH) $(GUEST_ASFLAGS) -c -o $@ $<

$(EX_OUT)/guest-%.o: $(EX_SRC)/%.c | $(EX_OUT)/.dir
	@echo "  CC$(EX_GUEST_ARCH)    $@"
	$(Q)$(CC) -m$(EX_GUEST_ARCH) $(GUEST_CFLAGS) $(EX_GUEST_CFLAGS) -c -o $@ $<

# A header of the exercise's (step 9's guest/interrupts.h) may change
# what any of its guest's files compiles to.
$(EX_GUEST_OBJS): $(wildcard $(EX_SRC)/*.h)

$(EX_OUT)/guest.elf: $(EX_GUEST_OBJS) $(EX_LD_SCRIPT)
	@echo "  LD      $@"
	$(Q)$(GUEST_LD) -m $(EX_LD_EMU) -T $(EX_LD_SCRIPT) -o $@ $(EX_GUEST_OBJS)

$(EX_OUT)/guest.bin: $(EX_OUT)/guest.elf
	$(Q)$(OBJCOPY) -O binary $< $@

$(EX_OUT)/embed.o: guest/embed.S $(EX_OUT)/guest.bin $(EX_CONF)
	$(Q)$(CC) -c -o $@ -DGUEST_NAME=$(EX_GUEST_SYMBOL) -DGUEST_FILE='"$(EX_OUT)/guest.bin"' $<

# Compiled again when the build switches between plain and SANITIZE=1
# (STEP_LINKED changes then): the objects of one do not link in the other.
$(EX_OUT)/host.o: $(EX_SRC)/$(EX_HOST) $(STEP_LINKED) | $(EX_OUT)/.dir
	@echo "  CC      $@"
	$(Q)$(CC) $(HOST_CFLAGS) $(EX_LDLIBS) -c -o $@ $<

$(EX_PROGRAM): $(EX_OUT)/host.o $(if $(strip $(EX_GUEST)),$(EX_OUT)/embed.o) \
		$(patsubst %,$(BUILD)/embed/%.o,$(EX_STEP_GUESTS))
	@echo "  LINK    $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $^ $(EX_LDLIBS)

$(EX_OUT)/.dir:
	$(Q)mkdir -p $(EX_OUT) && touch $@
endif

help::
	@echo '  make exercises       progress: every exercise checked, and your score'
	@echo '  make exercise EX=NN-name       build and check one (EX=04-decimal)'
	@echo '  make hint EX=NN-name           the hint for that exercise'
	@echo '  make solution-diff EX=NN-name  your work against its solution'
	@echo '  make reset EX=NN-name          that exercise back to its starting files'
	@echo '                                 (yours saved under build/ first)'
