# lab/lab.mk: the lab, a QEMU virtual machine (software emulation, an AMD
# CPU with SVM) whose kvm_amd gives a hardware-style /dev/kvm. lab/run does
# the work; see book/appendix-lab.md.
#
#   make lab-check                 the test suite inside the lab
#   make lab CMD='./step6 --trace' one command inside the lab
#   make lab                       an interactive shell inside the lab
#
# LAB_CPU='qemu64,+svm' runs without nested paging (shadow paging).
# The steps and the tests' guests are built here, on the host; the lab sees
# them through its read-only view of the host's filesystem.

.PHONY: lab lab-check lab-selftest lab-clean

# The variables lab/run reads, passed on when given to make.
export LAB_TESTS LAB_CPU LAB_TIMEOUT LAB_BOOT_TIMEOUT LAB_FREEZE_TIMEOUT LAB_MEM LAB_SMP LAB_JOBS LAB_KERNEL \
	LAB_HOST_ROOT LAB_HOST_RELEASE LAB_KERNEL_META LAB_KERNEL_ARGS PROVE PROVE_FLAGS

lab-check: all test-prereqs
	$(Q)lab/run check

# CMD reaches lab/run as make got it: $(value) keeps make from expanding
# its $VARIABLES, and the single quotes keep the shell here from doing so.
lab: all test-prereqs
	$(Q)if [ -n '$(subst ','\'',$(value CMD))' ]; then \
		lab/run cmd '$(subst ','\'',$(value CMD))'; else lab/run shell; fi

# The lab's own tests (TAP): what lab/run promises, in about ten short boots.
lab-selftest: all test-prereqs
	$(Q)$(PROVE) $(PROVE_FLAGS) lab/selftest.t

# The kernel and initramfs cache (a few MB; rebuilt by the next lab run).
lab-clean:
	rm -rf build/lab

help::
	@echo '  make lab-check       the test suite inside the QEMU lab (hardware-style KVM)'
	@echo '  make lab CMD=./stepN one command inside the lab (make lab alone: a shell)'
	@echo '  make lab-selftest    tests of the lab itself (about ten short boots)'
	@echo '    LAB_CPU=qemu64,+svm  with either: the lab without nested paging (shadow paging)'
