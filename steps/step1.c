/*
 * step1.c: opening /dev/kvm. Before a hypervisor can make a virtual
 * machine it must find KVM and ask what this KVM can do.
 *
 * KVM, step by step, chapter 1. Build and run:
 *
 *     make step1 && ./step1
 *
 * Everything in KVM starts from one file, /dev/kvm. Opening it gives a
 * file descriptor for "system" ioctls: which API version the kernel
 * speaks (KVM_GET_API_VERSION, always 12) and which optional features it
 * has (KVM_CHECK_EXTENSION, one capability at a time). Later steps use
 * the same descriptor to create a VM.
 *
 * Exit status: 0 KVM is usable and has what the course needs; 2 it is
 * missing, inaccessible, not KVM, or lacks a capability the course needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The number of elements of an array (not of a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define DEFAULT_DEVICE "/dev/kvm"

static const char *program = "step1";

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
			       "Opens %s (or $KVM_DEVICE), checks its API version and\n"
			       "reports the capabilities the later steps rely on.\n"
			       "Exit status: 0 usable, 2 missing, inaccessible, not KVM, or\n"
			       "lacking a required capability.\n", program, DEFAULT_DEVICE);
			exit(0);
		}
		die(2, "unknown option \"%s\" (try --help)", argv[i]);
	}
}

/* listing: lab-command */
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
/* end listing: lab-command */

/* listing: open */
/* Open the KVM device. Each way this can fail has its own cause and its
 * own remedy, so each gets its own message. */
static int kvm_open(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
		die_no_kvm("%s does not exist: the kvm module is not loaded, or this machine\n"
		    "  has no hardware virtualization. Try: sudo modprobe kvm_intel (or\n"
		    "  kvm_amd), or turn on VT-x/AMD-V in the firmware.",
		    path);
	case EACCES:
	case EPERM:
		die_no_kvm("cannot open %s: %s\n  Join the group that owns it (ls -l %s; usually\n"
		    "  \"kvm\"): sudo usermod -aG kvm $USER, then log in again.",
		    path, strerror(errno), path);
	case ENXIO:
	case ENODEV:
		die_no_kvm("cannot open %s: %s\n  The module is loaded but found no usable\n"
		    "  virtualization: check VT-x/AMD-V in the firmware, or nested\n"
		    "  virtualization if this is itself a virtual machine.",
		    path, strerror(errno));
	default:
		die_no_kvm("cannot open %s: %s", path, strerror(errno));
	}
}
/* end listing: open */

/* listing: api-version */
/* Ask the kernel which KVM API it speaks. It has been 12 since Linux
 * 2.6.22 and will not change; anything else means this is not the KVM
 * this program was written for. A file that is not KVM at all (say,
 * /dev/null) rejects the ioctl: that is how we recognise it. */
static void kvm_check_api(int kvm_fd, const char *path)
{
	int version = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);

	if (version < 0)
		die_no_kvm("%s is not a KVM device: KVM_GET_API_VERSION failed: %s\n"
		    "  Point KVM_DEVICE at /dev/kvm, or unset it.", path, strerror(errno));
	if (version != KVM_API_VERSION)
		die_no_kvm("%s speaks KVM API version %d; this program needs %d", path,
		    version, KVM_API_VERSION);
	printf("%s: KVM API version %d\n", path, version);
}
/* end listing: api-version */

/* listing: capabilities */
/* The capabilities the course uses, each with what it means for us.
 * "required" ones are needed by every step that runs a guest. */
struct capability {
	int id;                 /* the KVM_CAP_* number */
	const char *name;       /* its name, for printing */
	const char *meaning;    /* one line: what a step does with it */
	int required;
};

static const struct capability capabilities[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY",
	  "guest RAM is memory we mmap (step 2)", 1 },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT",
	  "a signal can stop a running vCPU: the watchdog (step 3)", 1 },
	{ KVM_CAP_NR_VCPUS, "KVM_CAP_NR_VCPUS",
	  "vCPUs recommended per VM", 0 },
	{ KVM_CAP_MAX_VCPUS, "KVM_CAP_MAX_VCPUS",
	  "vCPUs allowed per VM", 0 },
	{ KVM_CAP_NR_MEMSLOTS, "KVM_CAP_NR_MEMSLOTS",
	  "memory regions (slots) per VM", 0 },
	{ KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM",
	  "read-only slots: guest writes become MMIO exits", 0 },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR",
	  "Intel real mode needs a TSS page KVM may place", 0 },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID",
	  "we choose the CPUID the guest sees (long mode)", 0 },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP",
	  "an interrupt controller emulated in the kernel", 0 },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2",
	  "a timer chip (i8254) emulated in the kernel", 0 },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD",
	  "guest port/MMIO writes can signal an eventfd", 0 },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD",
	  "an eventfd can raise a guest interrupt", 0 },
	{ KVM_CAP_SET_GUEST_DEBUG, "KVM_CAP_SET_GUEST_DEBUG",
	  "single-step and breakpoints in the guest", 0 },
	{ KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS",
	  "registers shared in kvm_run, fewer ioctls per exit", 0 },
};

/* Ask about each capability and print a table. KVM_CHECK_EXTENSION
 * returns 0 for "no", and for "yes" 1 or a number (a count, a bitmap).
 * Returns how many required capabilities are missing. */
static int kvm_report_capabilities(int kvm_fd)
{
	int missing = 0;

	printf("\n%-24s %7s  %s\n", "capability", "answer", "what the course does with it");
	for (size_t i = 0; i < ARRAY_SIZE(capabilities); i++) {
		const struct capability *cap = &capabilities[i];
		int answer = ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap->id);

		if (answer < 0)
			answer = 0;
		printf("%-24s %7d  %s%s\n", cap->name, answer, cap->meaning,
		       cap->required && !answer ? "  [REQUIRED, MISSING]" : "");
		missing += cap->required && !answer;
	}
	return missing;
}
/* end listing: capabilities */

int main(int argc, char **argv)
{
	const char *path = getenv("KVM_DEVICE") ? getenv("KVM_DEVICE") : DEFAULT_DEVICE;
	int kvm_fd, missing;

	parse_options(argc, argv);
	command_line = argv;    /* die_no_kvm repeats it for the lab */
	kvm_fd = kvm_open(path);
	kvm_check_api(kvm_fd, path);
	missing = kvm_report_capabilities(kvm_fd);
	close(kvm_fd);
	if (missing)
		die(2, "%d required capabilities are missing: later steps will not run", missing);
	printf("\nKVM is ready: on to step 2.\n");
	return 0;
}
