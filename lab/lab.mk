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

.PHONY: lab lab-check lab-clean

# The variables lab/run reads, passed on when given to make.
export LAB_CPU LAB_TIMEOUT LAB_BOOT_TIMEOUT LAB_MEM LAB_SMP PROVE PROVE_FLAGS

lab-check: all test-prereqs
	$(Q)lab/run check

lab: all test-prereqs
	$(Q)if [ -n "$(CMD)" ]; then lab/run cmd '$(subst ','\'',$(CMD))'; else lab/run shell; fi

# The kernel and initramfs cache (a few MB; rebuilt by the next lab run).
lab-clean:
	rm -rf build/lab

# make help: the top-level Makefile echoes each word of EXTRA_HELP on a line
# of its own, so a line's spaces are spelled as a shell expansion that
# gives a space (the first character of the shell's IFS).
lab_space := $(subst x,,x x)
lab_comma := ,
lab_help = $(subst $(lab_space),'$${IFS%??}',$(1))
EXTRA_HELP += $(call lab_help,make lab-check        the test suite inside the QEMU lab (hardware-style KVM))
EXTRA_HELP += $(call lab_help,make lab CMD=./stepN  one command inside the lab (make lab alone: a shell))
EXTRA_HELP += $(call lab_help,  LAB_CPU=qemu64$(lab_comma)+svm   the lab without nested paging (shadow paging))
