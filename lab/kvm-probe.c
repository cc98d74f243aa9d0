/*
 * lab/kvm-probe.c: is this machine's KVM usable? make and exercises/ex.sh
 * ask it (through lab/auto) before they run a guest: usable, the guests run
 * here; not, they run in the lab.
 *
 *   build/kvm-probe        exit 0: usable; 1: not, with the reason on stdout
 *
 * Usable means what every step needs first: the device opens read-write,
 * speaks KVM API version 12, and creates a VM. The device is /dev/kvm, or
 * $KVM_DEVICE if set, as for the steps.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Why a device that would not open is of no use, in a few words. */
static const char *open_reason(int error)
{
	switch (error) {
	case ENOENT:
		return "does not exist";
	case EACCES:
	case EPERM:
		return "cannot be opened: permission denied (group kvm?)";
	case ENXIO:
	case ENODEV:
		return "has no virtualization behind it (VT-x/AMD-V off, or no nesting)";
	default:
		return NULL;
	}
}

int main(void)
{
	const char *path = getenv("KVM_DEVICE") ? getenv("KVM_DEVICE") : "/dev/kvm";
	const char *why;
	int fd, version, vm;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		why = open_reason(errno);
		if (why)
			printf("%s %s\n", path, why);
		else
			printf("%s cannot be opened: %s\n", path, strerror(errno));
		return 1;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version < 0) {
		printf("%s is not a KVM device\n", path);
		return 1;
	}
	if (version != KVM_API_VERSION) {
		printf("%s speaks KVM API version %d, not %d\n", path, version, KVM_API_VERSION);
		return 1;
	}
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("%s refuses to create a VM (KVM_CREATE_VM: %s)\n", path, strerror(errno));
		return 1;
	}
	close(vm);
	close(fd);
	printf("%s: KVM API version %d, KVM_CREATE_VM works\n", path, version);
	return 0;
}
