/*
 * tests/fakekvm.c: an LD_PRELOAD library for the tests. It answers some
 * KVM ioctls a step makes in its own way, to reach paths that no machine
 * shows on demand. FAKE_KVM says which:
 *
 *   FAKE_KVM=api-version     KVM_GET_API_VERSION answers 11, not 12
 *   FAKE_KVM=create-vm       KVM_GET_API_VERSION answers 12, KVM_CHECK_EXTENSION
 *                            1, and KVM_CREATE_VM fails with EBUSY (as when
 *                            another hypervisor holds VT-x or AMD-V)
 *   FAKE_KVM=shutdown-reset  a real KVM, but when KVM_RUN returns
 *                            KVM_EXIT_SHUTDOWN the vCPU is put in its reset
 *                            state first (CS:RIP f000:fff0, CR0 0x60000010,
 *                            CR2 0), as AMD's KVM does after a triple fault
 *   FAKE_KVM=shutdown-keep   a real KVM, but when KVM_RUN returns
 *                            KVM_EXIT_SHUTDOWN with the vCPU reset (AMD),
 *                            the registers it entered KVM_RUN with are put
 *                            back, and CR2 set to $FAKE_KVM_CR2: Intel keeps
 *                            the fault's registers (the same, for a guest
 *                            that faults at the first instruction it runs)
 *   FAKE_KVM=no-irqchip      a real KVM, but KVM_CHECK_EXTENSION answers 0
 *                            for KVM_CAP_IRQCHIP: a KVM without the in-kernel
 *                            interrupt controllers (step 9 exits 77)
 *   FAKE_KVM=max-vcpus-2     a real KVM, but KVM_CHECK_EXTENSION answers 2
 *                            for KVM_CAP_MAX_VCPUS: a KVM that gives a VM
 *                            two vCPUs at most (step 12 --cpus 4 exits 77)
 *   FAKE_KVM=no-mp-state     a real KVM, but KVM_CHECK_EXTENSION answers 0
 *                            for KVM_CAP_MP_STATE (step 12 exits 77)
 *   FAKE_KVM=no-ioeventfd    a real KVM, but KVM_CHECK_EXTENSION answers 0
 *                            for KVM_CAP_IOEVENTFD (step 13 exits 77)
 *   FAKE_KVM=no-immediate-exit  a real KVM, but KVM_CHECK_EXTENSION answers
 *                            0 for KVM_CAP_IMMEDIATE_EXIT (step 13 exits 77)
 *
 * Every other ioctl goes to the C library's. Built by make test-prereqs
 * as build/tests/fakekvm.so; tests/lib.sh's run_fake_kvm runs a step
 * with it (and KVM_DEVICE=/dev/null for the first two modes).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* The C library's ioctl, found once: every call we do not fake goes
 * there, so the step's stdio and everything else work as usual. */
static int real_ioctl(int fd, unsigned long request, void *arg)
{
	static int (*next)(int, unsigned long, ...);

	if (!next)
		next = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	return next(fd, request, arg);
}

/* A real-mode segment as a processor has it after RESET: the given
 * selector and base, a 64 KiB limit, present, of the given type. */
static struct kvm_segment reset_segment(__u16 selector, __u64 base, __u8 type, __u8 s)
{
	return (struct kvm_segment){ .selector = selector, .base = base, .limit = 0xffff,
				     .type = type, .present = 1, .s = s };
}

/* Put the vCPU in the state of a processor after RESET (Intel SDM vol.
 * 3, "Processor State After Reset"; AMD APM vol. 2, "Processor
 * Initialization State"), as AMD's KVM does after a triple fault. */
static void vcpu_reset(int vcpu_fd)
{
	struct kvm_regs regs = { .rip = 0xfff0, .rflags = 0x2 };
	struct kvm_sregs s;

	if (real_ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return;
	s.cs = reset_segment(0xf000, 0xffff0000, 0xb, 1);
	s.ds = s.es = s.fs = s.gs = s.ss = reset_segment(0, 0, 0x3, 1);
	s.ldt = reset_segment(0, 0, 0x2, 0);
	s.tr = reset_segment(0, 0, 0xb, 0);
	s.gdt = (struct kvm_dtable){ .base = 0, .limit = 0xffff };
	s.idt = s.gdt;
	s.cr0 = 0x60000010;
	s.cr2 = s.cr3 = s.cr4 = s.efer = 0;
	memset(s.interrupt_bitmap, 0, sizeof(s.interrupt_bitmap));
	real_ioctl(vcpu_fd, KVM_SET_SREGS, &s);
	real_ioctl(vcpu_fd, KVM_SET_REGS, &regs);
}

/* Whether the vCPU is in its reset state (CS:RIP f000:fff0). */
static int vcpu_is_reset(int vcpu_fd)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	return real_ioctl(vcpu_fd, KVM_GET_REGS, &r) == 0 &&
	       real_ioctl(vcpu_fd, KVM_GET_SREGS, &s) == 0 &&
	       s.cs.selector == 0xf000 && s.cs.base == 0xffff0000 && r.rip == 0xfff0;
}

/* KVM_RUN for the shutdown-* modes: the real one, then, if it returned
 * KVM_EXIT_SHUTDOWN, the registers as the mode says. The exit reason is
 * read from the vCPU's kvm_run page, mapped here a second time. */
static int fake_run(int vcpu_fd, void *arg, int keep)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_run *run;
	int ret, saved;

	saved = real_ioctl(vcpu_fd, KVM_GET_REGS, &regs) == 0 &&
		real_ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) == 0;
	ret = real_ioctl(vcpu_fd, KVM_RUN, arg);
	run = mmap(NULL, sizeof(*run), PROT_READ, MAP_SHARED, vcpu_fd, 0);
	if (ret < 0 || run == MAP_FAILED)
		return ret;
	if (run->exit_reason == KVM_EXIT_SHUTDOWN && !keep)
		vcpu_reset(vcpu_fd);
	if (run->exit_reason == KVM_EXIT_SHUTDOWN && keep && saved && vcpu_is_reset(vcpu_fd)) {
		sregs.cr2 = strtoull(getenv("FAKE_KVM_CR2") ? getenv("FAKE_KVM_CR2") : "0", NULL, 0);
		real_ioctl(vcpu_fd, KVM_SET_SREGS, &sregs);
		real_ioctl(vcpu_fd, KVM_SET_REGS, &regs);
	}
	munmap(run, sizeof(*run));
	return ret;
}

/* The modes that are a real KVM but for one capability: to
 * KVM_CHECK_EXTENSION of cap it answers answer; every other ioctl is the
 * real KVM's. */
struct capability_mode {
	const char *mode;
	long cap;
	int answer;
};

static const struct capability_mode capability_modes[] = {
	{ "no-irqchip", KVM_CAP_IRQCHIP, 0 },
	{ "max-vcpus-2", KVM_CAP_MAX_VCPUS, 2 },
	{ "no-mp-state", KVM_CAP_MP_STATE, 0 },
	{ "no-ioeventfd", KVM_CAP_IOEVENTFD, 0 },
	{ "no-immediate-exit", KVM_CAP_IMMEDIATE_EXIT, 0 },
};

/* FAKE_KVM's mode, if it is one of capability_modes; else NULL. */
static const struct capability_mode *capability_mode(const char *mode)
{
	for (size_t i = 0; i < sizeof(capability_modes) / sizeof(capability_modes[0]); i++)
		if (!strcmp(mode, capability_modes[i].mode))
			return &capability_modes[i];
	return NULL;
}

/* The ioctl the step calls: the faked answers for FAKE_KVM's mode,
 * the C library's for everything else. */
int ioctl(int fd, unsigned long request, ...)
{
	const char *mode = getenv("FAKE_KVM");
	const struct capability_mode *cap;
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!mode)
		return real_ioctl(fd, request, arg);
	if (request == KVM_RUN && !strncmp(mode, "shutdown-", 9))
		return fake_run(fd, arg, !strcmp(mode, "shutdown-keep"));
	cap = capability_mode(mode);
	if (cap && request == KVM_CHECK_EXTENSION && (long)arg == cap->cap)
		return cap->answer;
	if (cap || !strncmp(mode, "shutdown-", 9))
		return real_ioctl(fd, request, arg);
	if (request == KVM_GET_API_VERSION)
		return strcmp(mode, "api-version") ? KVM_API_VERSION : 11;
	if (!strcmp(mode, "create-vm") && request == KVM_CHECK_EXTENSION)
		return 1;
	if (!strcmp(mode, "create-vm") && request == KVM_CREATE_VM) {
		errno = EBUSY;
		return -1;
	}
	return real_ioctl(fd, request, arg);
}
