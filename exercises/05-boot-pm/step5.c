/*
 * step5.c for exercise 05-boot-pm: step 5's --boot, with a guest that
 * you finish. The host starts it in real mode and only watches: the
 * guest itself loads a GDT, sets CR0.PE and jumps into 32-bit code.
 *
 *     make exercise EX=05-boot-pm             build and check
 *     build/exercises/05-boot-pm/step5 --trace
 *
 * The host also leaves a message at physical 0x180000, above the 1 MiB
 * (plus 64 KiB) a real-mode address can reach: only the 32-bit guest
 * can print it. Nothing to change in this file: your work is guest.S.
 *
 * Exit status: 0 the guest halted in 32-bit protected mode and the checks
 * passed; 1 the guest ended any other way; 2 usage or host setup error;
 * 77 this host's KVM cannot run the step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/*
 * Guest-physical memory, 2 MiB of RAM at address 0:
 *
 *   0x000000 +--------------------------+
 *            | (unused)                 |
 *   0x000400 | result: the guest's 42   |
 *   0x001000 +--------------------------+ <- CS:IP = 0000:1000
 *            | guest code and data,     |
 *            | its GDT among them       |
 *            |            ...           |
 *   0x00f000 | real-mode stack, down    | <- SS:SP = 0000:f000
 *            |            ...           |
 *   0x180000 | the host's message       |
 *            |            ...           |
 *   0x200000 +--------------------------+ <- ESP, once in 32-bit code
 */
#define GUEST_MEM_SIZE     0x200000
#define GUEST_RESULT_ADDR  0x400
#define GUEST_LOAD_ADDR    0x1000
#define GUEST_STACK_TOP    0x200000
#define GUEST_EXPECTED     42
#define GUEST_MESSAGE_ADDR 0x180000
#define GUEST_MESSAGE      "This message lies at 0x180000, out of real mode's reach.\n"

/* The guest starts in real mode, with step 4's stack. */
#define REAL_MODE_STACK_TOP 0xf000

/* Control register bits this step uses. */
#define CR0_PE             (1u << 0)   /* protection enable */

/* The guest's console: the Bochs/QEMU debug port. Bytes written to it are
 * printed; reading it returns 0xE9, which tells the guest it is there. */
#define CONSOLE_PORT       0xe9

#define DEFAULT_DEVICE     "/dev/kvm"
#define DEFAULT_TIMEOUT    10.0   /* seconds; --timeout 0 turns it off */

/* The embedded guest, built from guest.S (see guest/embed.S). */
extern const unsigned char guest_exercise[], guest_exercise_end[];

static const char *program = "step5";

/* What the command line asked for. */
struct options {
	const char *guest_path; /* --guest FILE, or NULL: the embedded guest */
	int trace;              /* --trace: print the mode and every VM exit */
	double timeout;         /* --timeout SECONDS: 0 means no watchdog */
};

/* The VM and its one vCPU: file descriptors and the memory we share. */
struct vm {
	int kvm_fd;             /* /dev/kvm: system-wide ioctls */
	int vm_fd;              /* KVM_CREATE_VM: this virtual machine */
	int vcpu_fd;            /* KVM_CREATE_VCPU: its processor */
	uint8_t *mem;           /* guest RAM, as the host sees it */
	struct kvm_run *run;    /* the vCPU's shared page: why KVM_RUN returned */
	size_t run_size;
};

/* Print a message and exit with the given status. Every fatal error
 * in this file goes through here, so each one says who is talking. */
static void die(int status, const char *fmt, ...)
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

/* An ioctl that must succeed: on failure, name the ioctl, give the
 * errno text and say what to do about it, then exit with status 2. */
static int kvm_ioctl(int fd, unsigned long request, void *arg,
		     const char *name, const char *advice)
{
	int ret = ioctl(fd, request, arg);

	if (ret < 0)
		die(2, "%s failed: %s\n  %s", name, strerror(errno), advice);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The command line                                                    */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [--trace] [--guest FILE] [--timeout SECONDS] [--help]\n"
		"\n"
		"Starts a real-mode guest that switches itself to 32-bit protected\n"
		"mode, prints through port 0x%x, stores %d at guest address 0x%x and\n"
		"halts with %d in EAX.\n"
		"\n"
		"  --trace            print the mode at start and end, and every VM exit\n"
		"                     (on stderr)\n"
		"  --guest FILE       run a flat binary instead, loaded at 0x%x:\n"
		"                     16-bit code (all segments 0, SP = 0x%x)\n"
		"  --timeout SECONDS  stop a guest still running after this long\n"
		"                     (default %g, 0 = never)\n"
		"  --help             this text\n"
		"\n"
		"The device is %s, or $KVM_DEVICE if set.\n"
		"Exit status: 0 halted and checked, 1 the guest failed, 2 usage or\n"
		"host setup error, 77 this host's KVM cannot run this step.\n",
		program, CONSOLE_PORT, GUEST_EXPECTED, GUEST_RESULT_ADDR,
		GUEST_EXPECTED, GUEST_LOAD_ADDR, REAL_MODE_STACK_TOP, DEFAULT_TIMEOUT, DEFAULT_DEVICE);
}

/* Parse a number of seconds, rejecting anything that is not one. */
static double parse_seconds(const char *text)
{
	char *end;
	double seconds;

	errno = 0;
	seconds = strtod(text, &end);
	if (errno || end == text || *end || !(seconds >= 0 && seconds <= 86400))
		die(2, "--timeout wants a number of seconds from 0 to 86400, not \"%s\"",
		    text);
	return seconds;
}

/* Read the command line into struct options; bad input is status 2. */
static struct options parse_options(int argc, char **argv)
{
	struct options opt = { .timeout = DEFAULT_TIMEOUT };

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(arg, "--trace")) {
			opt.trace = 1;
		} else if (!strcmp(arg, "--guest") || !strcmp(arg, "--timeout")) {
			if (i + 1 >= argc)
				die(2, "%s needs a value (see --help)", arg);
			if (!strcmp(arg, "--guest"))
				opt.guest_path = argv[++i];
			else
				opt.timeout = parse_seconds(argv[++i]);
		} else {
			fprintf(stderr, "%s: unknown option \"%s\"\n", program, arg);
			usage(stderr);
			exit(2);
		}
	}
	return opt;
}

/* ------------------------------------------------------------------ */
/* Opening /dev/kvm                                                    */

/* Open the KVM device and check its API version. Each way this can
 * fail has its own cause and its own remedy, so each gets a message. */
static int kvm_open(void)
{
	const char *path = getenv("KVM_DEVICE") ? getenv("KVM_DEVICE") : DEFAULT_DEVICE;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0 && errno == ENOENT)
		die(2, "%s does not exist: the kvm module is not loaded, or this machine\n"
		    "  has no hardware virtualization. Try: sudo modprobe kvm_intel (or\n"
		    "  kvm_amd); turn on VT-x/AMD-V in the firmware; or use the lab: make lab",
		    path);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		die(2, "cannot open %s: %s\n  Join the group that owns it (ls -l %s; usually\n"
		    "  \"kvm\"): sudo usermod -aG kvm $USER, then log in again.",
		    path, strerror(errno), path);
	if (fd < 0 && (errno == ENXIO || errno == ENODEV))
		die(2, "cannot open %s: %s\n  The module is loaded but found no usable\n"
		    "  virtualization: check VT-x/AMD-V in the firmware, or nested\n"
		    "  virtualization if this is itself a virtual machine.",
		    path, strerror(errno));
	if (fd < 0)
		die(2, "cannot open %s: %s", path, strerror(errno));

	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version < 0)
		die(2, "%s is not a KVM device (KVM_GET_API_VERSION: %s)", path,
		    strerror(errno));
	if (version != KVM_API_VERSION)
		die(2, "%s speaks KVM API version %d; this program needs %d", path,
		    version, KVM_API_VERSION);
	return fd;
}

/* ------------------------------------------------------------------ */
/* The VM, its memory and its vCPU (steps 2 and 3)                     */

/* Create the VM and give it GUEST_MEM_SIZE bytes of RAM at guest-physical
 * address 0, backed by anonymous memory of ours. */
static void vm_create(struct vm *vm)
{
	struct kvm_userspace_memory_region region;

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)
		die(2, "this KVM lacks KVM_CAP_USER_MEMORY, which every step needs");
	vm->vm_fd = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM",
			      "Is another hypervisor holding the hardware? See dmesg.");

	vm->mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		die(2, "mmap of %d bytes of guest memory: %s", GUEST_MEM_SIZE,
		    strerror(errno));

	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uintptr_t)vm->mem,
	};
	kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region,
		  "KVM_SET_USER_MEMORY_REGION", "Step 2 shows what this ioctl checks.");
}

/* Create vCPU 0 and map its kvm_run page, where KVM_RUN reports why it
 * returned. */
static void vcpu_create(struct vm *vm)
{
	int size;

	vm->vcpu_fd = kvm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU",
				"See dmesg for the reason KVM gives.");
	size = kvm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0,
			 "KVM_GET_VCPU_MMAP_SIZE", "See dmesg.");
	if ((size_t)size < sizeof(struct kvm_run))
		die(2, "KVM_GET_VCPU_MMAP_SIZE says %d, less than a struct kvm_run", size);
	vm->run_size = size;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		die(2, "mmap of the vCPU's kvm_run area: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* Protected mode: segments, the GDT and the descriptor cache          */

/* Real mode at 0000:1000, as in step 4. The guest itself then loads a
 * GDT, sets CR0.PE and jumps; the host only watches. */
static void vcpu_setup_real_mode(struct vm *vm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", "See dmesg.");
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.cs;
	sregs.ds.type = sregs.es.type = sregs.fs.type = 3; /* data, read/write */
	sregs.gs.type = sregs.ss.type = 3;
	kvm_ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS",
		  "KVM refused these segment registers; see dmesg.");

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = GUEST_LOAD_ADDR;
	regs.rsp = REAL_MODE_STACK_TOP;
	kvm_ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
}

/* Copy the guest into memory at GUEST_LOAD_ADDR: the embedded one for
 * the mode, or the file named by --guest. Returns its size. */
static size_t guest_load(struct vm *vm, const struct options *opt)
{
	const size_t room = GUEST_STACK_TOP - 0x1000 - GUEST_LOAD_ADDR;
	const char *path = opt->guest_path;
	struct stat st;
	ssize_t got;
	int fd;

	if (!path) {
		const unsigned char *start = guest_exercise;
		const unsigned char *end = guest_exercise_end;

		memcpy(vm->mem + GUEST_LOAD_ADDR, start, end - start);
		return end - start;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(2, "cannot open guest file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		die(2, "cannot stat guest file %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		die(2, "guest file %s is a directory, not a flat binary", path);
	if (st.st_size == 0)
		die(2, "guest file %s is empty: there is nothing to run", path);
	if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size > room)
		die(2, "guest file %s is too large or not a regular file: the guest has\n"
		    "  room for %zu bytes at 0x%x", path, room, GUEST_LOAD_ADDR);
	got = read(fd, vm->mem + GUEST_LOAD_ADDR, st.st_size);
	if (got != st.st_size)
		die(2, "cannot read guest file %s: %s", path,
		    got < 0 ? strerror(errno) : "short read");
	close(fd);
	return st.st_size;
}

/* ------------------------------------------------------------------ */
/* Telling the learner what happened                                   */

/* KVM's exit reasons by name: KVM_RUN tells us why it returned as a
 * number in run->exit_reason, and a number teaches nothing. */
static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
	[KVM_EXIT_IO] = "KVM_EXIT_IO",
	[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
	[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
	[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
	[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
	[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
	[KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
	[KVM_EXIT_NMI] = "KVM_EXIT_NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	[KVM_EXIT_OSI] = "KVM_EXIT_OSI",
	[KVM_EXIT_PAPR_HCALL] = "KVM_EXIT_PAPR_HCALL",
	[KVM_EXIT_WATCHDOG] = "KVM_EXIT_WATCHDOG",
	[KVM_EXIT_EPR] = "KVM_EXIT_EPR",
	[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
	[KVM_EXIT_IOAPIC_EOI] = "KVM_EXIT_IOAPIC_EOI",
	[KVM_EXIT_HYPERV] = "KVM_EXIT_HYPERV",
};

static const char *exit_name(unsigned int reason)
{
	static char unknown[40];

	if (reason < sizeof(exit_names) / sizeof(exit_names[0]) && exit_names[reason])
		return exit_names[reason];
	snprintf(unknown, sizeof(unknown), "exit reason %u (not known to step5)", reason);
	return unknown;
}

/* Print the registers that explain where the guest was and what it was
 * doing, for every way a run can go wrong. */
static void vcpu_dump(struct vm *vm, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "  (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(out, "  rip %016llx  rsp %016llx  rflags %08llx\n", r.rip, r.rsp, r.rflags);
	fprintf(out, "  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n",
		r.rax, r.rbx, r.rcx, r.rdx);
	fprintf(out, "  rsi %016llx  rdi %016llx  rbp %016llx\n", r.rsi, r.rdi, r.rbp);
	fprintf(out, "  cs %04x (base %llx, %s)  ds %04x  ss %04x  cr0 %08llx  gdt %llx+%x\n",
		s.cs.selector, s.cs.base, s.cs.db ? "32-bit" : "16-bit",
		s.ds.selector, s.ss.selector, s.cr0, s.gdt.base, s.gdt.limit);
}

/* The bytes at CS:EIP, so a learner can see which instruction KVM could
 * not handle. KVM_TRANSLATE turns the guest's address into a physical
 * one (it knows the mode); we check that it lies in guest memory before
 * reading: the guest controls both CS and EIP. */
static void guest_show_code(struct vm *vm, FILE *out)
{
	struct kvm_translation tr;
	struct kvm_regs r;
	struct kvm_sregs s;
	uint64_t linear;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return;
	linear = s.cs.base + (s.cs.db ? r.rip & 0xffffffff : r.rip & 0xffff);
	fprintf(out, "  code at linear 0x%llx:", (unsigned long long)linear);
	for (int i = 0; i < 8; i++) {
		tr = (struct kvm_translation){ .linear_address = linear + i };
		if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid ||
		    tr.physical_address >= GUEST_MEM_SIZE) {
			fprintf(out, " (not in guest memory)");
			break;
		}
		fprintf(out, " %02x", vm->mem[tr.physical_address]);
	}
	fputc('\n', out);
}

/* Names of the set bits of a register, from a table of bit names, into
 * buf: "PE ET" for CR0 = 0x11. Unnamed set bits are left out. */
static const char *bit_names(uint64_t value, const char *const names[], int count,
			     char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int bit = 0; bit < count; bit++)
		if ((value >> bit) & 1 && names[bit] && used < size)
			used += snprintf(buf + used, size - used, "%s%s",
					 used ? " " : "", names[bit]);
	return buf;
}

static const char *const cr0_names[32] = {
	[0] = "PE", [1] = "MP", [2] = "EM", [3] = "TS", [4] = "ET", [5] = "NE",
	[16] = "WP", [18] = "AM", [29] = "NW", [30] = "CD", [31] = "PG",
};
static const char *const cr4_names[32] = {
	[0] = "VME", [1] = "PVI", [2] = "TSD", [3] = "DE", [4] = "PSE", [5] = "PAE",
	[6] = "MCE", [7] = "PGE", [9] = "OSFXSR", [10] = "OSXMMEXCPT",
};
static const char *const efer_names[12] = {
	[0] = "SCE", [8] = "LME", [10] = "LMA", [11] = "NXE",
};

/* --trace: the state that decides the CPU's mode, at the start and the
 * end of the run: the control registers, EFER, and CS's hidden cache,
 * whose db and l bits say how the CPU decodes the guest's code. */
static void trace_mode(struct vm *vm, const char *when)
{
	char b0[64], b4[64], be[32];
	struct kvm_sregs s;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s, "KVM_GET_SREGS", "See dmesg.");
	fprintf(stderr, "[trace] %s: cr0 0x%llx (%s)  cr3 0x%llx  cr4 0x%llx (%s)  efer 0x%llx (%s)\n",
		when, s.cr0, bit_names(s.cr0, cr0_names, 32, b0, sizeof(b0)), s.cr3,
		s.cr4, bit_names(s.cr4, cr4_names, 32, b4, sizeof(b4)),
		s.efer, bit_names(s.efer, efer_names, 12, be, sizeof(be)));
	fprintf(stderr, "[trace] %s: cs 0x%04x base 0x%llx limit 0x%x type 0x%x s %u dpl %u "
		"present %u db %u l %u g %u  gdt 0x%llx limit 0x%x\n",
		when, s.cs.selector, s.cs.base, s.cs.limit, s.cs.type, s.cs.s, s.cs.dpl,
		s.cs.present, s.cs.db, s.cs.l, s.cs.g, s.gdt.base, s.gdt.limit);
}

/* ------------------------------------------------------------------ */
/* The watchdog                                                        */

/* A guest can loop forever, and KVM_RUN would never return. The watchdog
 * is a timer signal: its handler sets run->immediate_exit, and the signal
 * itself kicks the vCPU out of KVM_RUN, which then fails with EINTR. */
static struct kvm_run *watchdog_run;
static volatile sig_atomic_t watchdog_fired;

static void watchdog_handler(int sig)
{
	(void)sig;
	watchdog_fired = 1;
	watchdog_run->immediate_exit = 1;
}

/* Arm the watchdog for the given number of seconds (0: never). */
static void watchdog_start(struct vm *vm, double seconds)
{
	struct sigaction sa = { .sa_handler = watchdog_handler };
	struct itimerval timer = { 0 };

	if (seconds <= 0)
		return;
	watchdog_run = vm->run;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die(2, "sigaction(SIGALRM): %s", strerror(errno));
	timer.it_value.tv_sec = (time_t)seconds;
	timer.it_value.tv_usec = (suseconds_t)((seconds - (time_t)seconds) * 1e6);
	if (timer.it_value.tv_sec == 0 && timer.it_value.tv_usec == 0)
		timer.it_value.tv_usec = 1;
	if (setitimer(ITIMER_REAL, &timer, NULL) < 0)
		die(2, "setitimer: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* The run loop                                                        */

/* KVM_EXIT_IO: the guest executed in or out. The bytes live in the
 * kvm_run page at data_offset: for "out" the guest's bytes to consume,
 * for "in" the place to put our answer. Returns 0 when handled, -1 for a
 * port nobody answers. */
static int vcpu_handle_io(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	size_t bytes = (size_t)run->io.size * run->io.count;

	/* data_offset comes from the kernel, but check it anyway: a wrong
	 * offset here would have us scribble over our own memory. */
	if (run->io.data_offset > vm->run_size || bytes > vm->run_size - run->io.data_offset)
		die(1, "KVM_EXIT_IO with data outside the kvm_run area (offset %llu, %zu bytes)",
		    (unsigned long long)run->io.data_offset, bytes);
	if (run->io.port != CONSOLE_PORT || run->io.size != 1)
		return -1;
	if (run->io.direction == KVM_EXIT_IO_OUT)
		fwrite(data, 1, bytes, stdout);
	else
		memset(data, CONSOLE_PORT, bytes);
	return 0;
}

/* Print one exit for --trace: its name and the details that matter. */
static void trace_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	struct kvm_regs regs;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
		regs.rip = ~0ULL;
	fprintf(stderr, "[trace] %-22s rip 0x%llx", exit_name(run->exit_reason), regs.rip);
	if (run->exit_reason == KVM_EXIT_IO) {
		uint8_t *data = (uint8_t *)run + run->io.data_offset;
		int is_out = run->io.direction == KVM_EXIT_IO_OUT;

		fprintf(stderr, "  %s port 0x%x size %u count %u", is_out ? "out" : "in",
			run->io.port, run->io.size, run->io.count);
		if (is_out && run->io.size == 1 && run->io.count == 1 &&
		    run->io.data_offset < vm->run_size)
			fprintf(stderr, " data 0x%02x '%c'", data[0],
				data[0] >= 0x20 && data[0] < 0x7f ? data[0] : '.');
	}
	fputc('\n', stderr);
}

/* Why the run ended, for main() to judge. */
enum run_end { RUN_HALTED, RUN_FAILED };

/* Say why the guest stopped when it was not a clean HLT: which exit, what
 * KVM told us about it, what it most likely means in protected mode, and
 * the registers. */
static void explain_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;

	fflush(stdout);
	fprintf(stderr, "%s: the guest stopped: %s\n", program, exit_name(run->exit_reason));
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		fprintf(stderr, "  %s port 0x%x (size %u, count %u): no device answers this port\n",
			run->io.direction == KVM_EXIT_IO_OUT ? "out to" : "in from",
			run->io.port, run->io.size, run->io.count);
		break;
	case KVM_EXIT_MMIO:
		fprintf(stderr, "  %s %u bytes at guest-physical 0x%llx: there is no memory there\n",
			run->mmio.is_write ? "write of" : "read of", run->mmio.len,
			(unsigned long long)run->mmio.phys_addr);
		break;
	case KVM_EXIT_SHUTDOWN:
		fprintf(stderr, "  a triple fault: the guest has no interrupt table (IDT), so its\n"
			"  first exception could not be delivered, nor the double fault after\n"
			"  it, and the CPU shut down. In protected mode the usual cause is a\n"
			"  segment: a selector beyond the GDT's limit, or whose descriptor is\n"
			"  not present or of the wrong type (check the GDT, the lgdt operand\n"
			"  and the far jump); else an instruction the CPU rejects at RIP.\n"
			"  (Some KVMs reset the vCPU on shutdown: the registers below may\n"
			"  show the reset state.)\n");
		guest_show_code(vm, stderr);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "  the CPU refused to enter the guest: hardware reason 0x%llx\n"
			"  (the segment registers or control registers are invalid together:\n"
			"  compare CS and SS with the descriptors in the GDT)\n",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		fprintf(stderr, "  suberror %u%s\n", run->internal.suberror,
			run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			": KVM could not emulate the instruction at RIP (its bytes below)" : "");
		guest_show_code(vm, stderr);
		break;
	default:
		fprintf(stderr, "  %s does not handle this exit\n", program);
		break;
	}
	vcpu_dump(vm, stderr);
}

/* Run the vCPU until the guest halts or does something we do not handle.
 * Each pass: enter the guest, and when KVM_RUN returns, look at
 * run->exit_reason to see why. */
static enum run_end vcpu_run_loop(struct vm *vm, const struct options *opt)
{
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && watchdog_fired) {
				fflush(stdout);
				fprintf(stderr, "%s: timeout: the guest was still running after %g s\n",
					program, opt->timeout);
				vcpu_dump(vm, stderr);
				return RUN_FAILED;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die(2, "KVM_RUN failed: %s\n  See dmesg for what KVM reported.",
			    strerror(errno));
		}
		if (opt->trace)
			trace_exit(vm);

		switch (vm->run->exit_reason) {
		case KVM_EXIT_HLT:
			return RUN_HALTED;
		case KVM_EXIT_IO:
			if (vcpu_handle_io(vm) == 0)
				continue;
			explain_exit(vm);
			return RUN_FAILED;
		default:
			explain_exit(vm);
			return RUN_FAILED;
		}
	}
}

/* The guest halted: check what it left behind, and that it halted in
 * 32-bit protected mode (after --boot, the guest got there itself).
 * With a guest of the learner's own, the results are only reported. */
static int guest_check(struct vm *vm, const struct options *opt)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t eax, result;
	int protected32;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
	kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", "See dmesg.");
	eax = regs.rax & 0xffffffff;
	memcpy(&result, vm->mem + GUEST_RESULT_ADDR, sizeof(result));
	protected32 = (sregs.cr0 & CR0_PE) && sregs.cs.db;
	fflush(stdout);
	printf("%s: the guest halted in %s: EAX = %u, memory[0x%x] = %u\n", program,
	       protected32 ? "32-bit protected mode" : "a 16-bit mode", eax,
	       GUEST_RESULT_ADDR, result);
	if (opt->guest_path)
		return 0;
	if (eax != GUEST_EXPECTED || result != GUEST_EXPECTED || !protected32) {
		fprintf(stderr, "%s: wrong result: expected %d in both, in 32-bit protected mode\n",
			program, GUEST_EXPECTED);
		vcpu_dump(vm, stderr);
		return 1;
	}
	printf("%s: both are %d: the guest ran as it should\n", program, GUEST_EXPECTED);
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = parse_options(argc, argv);
	struct vm vm;
	size_t size;

	/* The guest's console is line-buffered, as on a terminal, so that
	 * --trace lines (on stderr) fall between whole lines of output. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	vm.kvm_fd = kvm_open();
	vm_create(&vm);
	vcpu_create(&vm);
	vcpu_setup_real_mode(&vm);
	size = guest_load(&vm, &opt);
	memcpy(vm.mem + GUEST_MESSAGE_ADDR, GUEST_MESSAGE, sizeof(GUEST_MESSAGE));
	printf("%s: real mode; the guest switches to protected mode itself\n", program);
	if (opt.trace) {
		fprintf(stderr, "[trace] %zu bytes of guest code at 0x%x\n", size, GUEST_LOAD_ADDR);
		trace_mode(&vm, "start");
	}

	watchdog_start(&vm, opt.timeout);
	if (vcpu_run_loop(&vm, &opt) != RUN_HALTED)
		return 1;
	if (opt.trace)
		trace_mode(&vm, "end");
	return guest_check(&vm, &opt);
}
