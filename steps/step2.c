/*
 * step2.c: a VM and its memory. We create an empty virtual machine and
 * give it RAM: memory of our own process that KVM maps into the guest's
 * physical address space.
 *
 * KVM, step by step, chapter 2. Build and run:
 *
 *     make step2 && ./step2
 *
 * A VM starts with no memory and no processors. Its RAM is ordinary
 * memory in the hypervisor process: we mmap it, then tell KVM "guest-
 * physical addresses A..A+N are these host bytes" with
 * KVM_SET_USER_MEMORY_REGION. The guest's RAM and our pointer are the
 * same bytes; no copying ever happens. KVM checks every region we hand
 * it, and the second half of this step shows what it refuses, and why.
 *
 * Exit status: 0 the VM and its memory are set up and KVM refused every
 * bad region as it should; 1 KVM accepted a region it should have
 * refused; 2 usage or host setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The number of elements of an array (not of a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The guest's RAM: 2 MiB at guest-physical address 0. */
#define GUEST_MEM_SIZE  0x200000
#define GUEST_MEM_BASE  0x0
#define DEFAULT_DEVICE  "/dev/kvm"

static const char *program = "step2";

/* Print a message and exit with the given status. Every fatal error
 * in this file goes through here, so each one says who is talking. */
static _Noreturn void die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* The only option is --help; anything else is a usage error. */
static void parse_options(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: %s [--help]\n\n"
			       "Creates a VM, gives it %d KiB of RAM at guest-physical 0x%x, shows\n"
			       "the mapping, then shows which memory regions KVM refuses.\n"
			       "The device is %s, or $KVM_DEVICE if set.\n"
			       "Exit status: 0 as expected, 1 KVM accepted a bad region,\n"
			       "2 usage or host setup error.\n",
			       program, GUEST_MEM_SIZE / 1024, GUEST_MEM_BASE, DEFAULT_DEVICE);
			exit(0);
		}
		die(2, "unknown option \"%s\" (try --help)", argv[i]);
	}
}

/* The command line as the learner typed it, saved by main: a step that
 * finds no usable KVM repeats it as the command to run in the lab. */
static char **command_line;

/* Print one word of a command so that bash reads it back unchanged: bare
 * if it is safe characters only (and not empty), else in double quotes
 * with ", \, $ and ` escaped. Inside CMD='...', a ' is written '\''. */
static void print_shell_word(FILE *out, const char *word)
{
	const char *safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789_./=:,+@%-";

	if (word[0] && !word[strspn(word, safe)]) {
		fputs(word, out);
		return;
	}
	fputc('"', out);
	for (const char *c = word; *c; c++) {
		if (*c == '\'')
			fputs("'\\''", out);
		else if (*c == '"' || *c == '\\' || *c == '$' || *c == '`')
			fprintf(out, "\\%c", *c);
		else
			fputc(*c, out);
	}
	fputc('"', out);
}

/* Print the make command that runs this same command line in the lab,
 * which has a KVM (lab/run runs it with bash from the repository). */
static void print_lab_command(FILE *out)
{
	fputs("make lab CMD='", out);
	for (int i = 0; command_line[i]; i++) {
		if (i > 0)
			fputc(' ', out);
		print_shell_word(out, command_line[i]);
	}
	fputc('\'', out);
}

/* die(2, ...) for a machine without a usable KVM device: the message,
 * then the command that runs the same thing in the lab instead. */
static _Noreturn void die_no_kvm(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n  Run it in the lab instead (QEMU, no KVM needed here): ", stderr);
	print_lab_command(stderr);
	fputc('\n', stderr);
	exit(2);
}

/* Open the KVM device and check its API version. Each way this can
 * fail has its own cause and its own remedy, so each gets a message. */
static int kvm_open(void)
{
	const char *path = getenv("KVM_DEVICE") ? getenv("KVM_DEVICE") : DEFAULT_DEVICE;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0 && errno == ENOENT)
		die_no_kvm("%s does not exist: the kvm module is not loaded, or this machine\n"
		    "  has no hardware virtualization. Try: sudo modprobe kvm_intel (or\n"
		    "  kvm_amd), or turn on VT-x/AMD-V in the firmware.",
		    path);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		die_no_kvm("cannot open %s: %s\n  Join the group that owns it (ls -l %s; usually\n"
		    "  \"kvm\"): sudo usermod -aG kvm $USER, then log in again.",
		    path, strerror(errno), path);
	if (fd < 0 && (errno == ENXIO || errno == ENODEV))
		die_no_kvm("cannot open %s: %s\n  The module is loaded but found no usable\n"
		    "  virtualization: check VT-x/AMD-V in the firmware, or nested\n"
		    "  virtualization if this is itself a virtual machine.",
		    path, strerror(errno));
	if (fd < 0)
		die_no_kvm("cannot open %s: %s", path, strerror(errno));

	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version < 0)
		die_no_kvm("%s is not a KVM device: KVM_GET_API_VERSION failed: %s\n"
		    "  Point KVM_DEVICE at /dev/kvm, or unset it.", path, strerror(errno));
	if (version != KVM_API_VERSION)
		die_no_kvm("%s speaks KVM API version %d; this program needs %d", path,
		    version, KVM_API_VERSION);
	return fd;
}

/* listing: create-vm */
/* Create an empty VM. The new file descriptor stands for the VM: memory,
 * vCPUs and devices are all added through it. The argument is the
 * machine type, 0 on x86. */
static int vm_create(int kvm_fd)
{
	int vm_fd;

	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)
		die(2, "this KVM lacks KVM_CAP_USER_MEMORY, which every step needs");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		die_no_kvm("KVM_CREATE_VM failed: %s\n"
		    "  Is another hypervisor holding the hardware? See dmesg.", strerror(errno));
	return vm_fd;
}
/* end listing: create-vm */

/* listing: alloc-memory */
/* Reserve the guest's RAM in our address space. MAP_ANONYMOUS: plain
 * zeroed memory, no file behind it. MAP_NORESERVE: do not set swap aside
 * for all of it up front; a page becomes real (and counts against us)
 * only when the guest or we first touch it, as on a real machine whose
 * untouched RAM costs nothing. */
static uint8_t *guest_memory_alloc(size_t size)
{
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (mem == MAP_FAILED)
		die(2, "mmap of %zu bytes of guest memory: %s", size, strerror(errno));
	return mem;
}
/* end listing: alloc-memory */

/* listing: set-region */
/* Tell KVM that guest-physical [guest_phys, guest_phys + size) is backed
 * by our bytes at host. A slot number names the region, so it can later
 * be changed or deleted. Returns 0, or -1 with errno from KVM. */
static int vm_set_region(int vm_fd, uint32_t slot, uint32_t flags,
			 uint64_t guest_phys, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = guest_phys,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}
/* end listing: set-region */

/* listing: show-map */
/* Draw the map we just made: which guest-physical addresses land where
 * in this process. The host address changes from run to run (ASLR);
 * the guest-physical one is ours to choose. */
static void vm_show_map(const uint8_t *mem)
{
	printf("guest-physical memory map (slot 0):\n");
	printf("  guest 0x%08x-0x%08x  ->  host %p-%p  (%d KiB of RAM)\n",
	       GUEST_MEM_BASE, GUEST_MEM_BASE + GUEST_MEM_SIZE - 1,
	       (const void *)mem, (const void *)(mem + GUEST_MEM_SIZE - 1),
	       GUEST_MEM_SIZE / 1024);
	printf("  guest 0x%08x-...         ->  nothing: an access there is an MMIO exit\n",
	       GUEST_MEM_BASE + GUEST_MEM_SIZE);
}
/* end listing: show-map */

/* The symbolic name of the errnos this step meets: "EEXIST" says more
 * than 17. (glibc has errno_name, but only since 2.32.) */
static const char *errno_name(int err)
{
	switch (err) {
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EPERM: return "EPERM";
	default: return "another errno";
	}
}

/* listing: bad-regions */
/* Regions KVM must refuse, each with the errno it answers and why. */
struct bad_region {
	const char *what;       /* what is wrong with it */
	uint32_t slot;
	uint64_t guest_phys;
	uint64_t size;
	size_t host_offset;     /* from the start of our RAM */
	int expected_errno;
	const char *why;        /* the rule it breaks */
};

static const struct bad_region bad_regions[] = {
	{ "slot 1 over slot 0's addresses", 1, 0x100000, 0x100000, 0, EEXIST,
	  "two slots may not cover the same guest-physical address" },
	{ "an unaligned guest-physical address", 1, 0x201001, 0x1000, 0, EINVAL,
	  "addresses and sizes are whole 4 KiB pages" },
	{ "a size that is not whole pages", 1, 0x200000, 0x1800, 0, EINVAL,
	  "addresses and sizes are whole 4 KiB pages" },
	{ "an unaligned host address", 1, 0x200000, 0x1000, 0x10, EINVAL,
	  "the host memory must start on a page boundary too" },
};

/* Offer KVM each bad region and check it says no with the right errno.
 * Returns how many it wrongly accepted or refused for another reason. */
static int vm_try_bad_regions(int vm_fd, uint8_t *mem)
{
	int surprises = 0;

	printf("\nregions KVM must refuse:\n");
	for (size_t i = 0; i < ARRAY_SIZE(bad_regions); i++) {
		const struct bad_region *bad = &bad_regions[i];
		int ret = vm_set_region(vm_fd, bad->slot, 0, bad->guest_phys, bad->size,
					mem + bad->host_offset);
		int err = errno;

		printf("  %s (guest 0x%llx, size 0x%llx):\n", bad->what,
		       (unsigned long long)bad->guest_phys, (unsigned long long)bad->size);
		if (ret == 0) {
			printf("    ACCEPTED, but %s\n", bad->why);
			vm_set_region(vm_fd, bad->slot, 0, bad->guest_phys, 0, NULL);
			surprises++;
		} else if (err != bad->expected_errno) {
			printf("    refused with %s, expected %s\n", errno_name(err),
			       errno_name(bad->expected_errno));
			surprises++;
		} else {
			printf("    refused, %s (%s): %s\n", errno_name(err),
			       strerror(err), bad->why);
		}
	}
	return surprises;
}
/* end listing: bad-regions */

int main(int argc, char **argv)
{
	int kvm_fd, vm_fd;
	uint8_t *mem;

	parse_options(argc, argv);
	command_line = argv;    /* die_no_kvm repeats it for the lab */
	kvm_fd = kvm_open();
	vm_fd = vm_create(kvm_fd);
	printf("created a VM (file descriptor %d)\n", vm_fd);

	mem = guest_memory_alloc(GUEST_MEM_SIZE);
	if (vm_set_region(vm_fd, 0, 0, GUEST_MEM_BASE, GUEST_MEM_SIZE, mem) < 0)
		die(2, "KVM_SET_USER_MEMORY_REGION failed: %s\n  See dmesg for KVM's reason.",
		    strerror(errno));
	vm_show_map(mem);

	if (vm_try_bad_regions(vm_fd, mem)) {
		fprintf(stderr, "%s: KVM did not refuse every bad region as it should\n", program);
		return 1;
	}
	printf("\nKVM refused every bad region. The VM has memory but no CPU: step 3.\n");
	return 0;
}
