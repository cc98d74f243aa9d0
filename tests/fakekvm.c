/*
 * tests/fakekvm.c: an LD_PRELOAD library for the tests. It answers the
 * first KVM ioctls a step makes, on whatever file KVM_DEVICE names, as a
 * KVM that fails in one way, to reach error paths that no machine shows
 * on demand. FAKE_KVM says which:
 *
 *   FAKE_KVM=api-version  KVM_GET_API_VERSION answers 11, not 12
 *   FAKE_KVM=create-vm    KVM_GET_API_VERSION answers 12, KVM_CHECK_EXTENSION
 *                         1, and KVM_CREATE_VM fails with EBUSY (as when
 *                         another hypervisor holds VT-x or AMD-V)
 *
 * Every other ioctl goes to the C library's. Built by make test-prereqs
 * as build/tests/fakekvm.so; tests/lib.sh's run_fake_kvm runs a step
 * with it and KVM_DEVICE=/dev/null.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

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

/* The ioctl the step calls: the faked answers for FAKE_KVM's failure,
 * the C library's for everything else. */
int ioctl(int fd, unsigned long request, ...)
{
	const char *mode = getenv("FAKE_KVM");
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!mode)
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
