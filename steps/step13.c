/*
 * step13.c: measuring KVM. Every chapter so far says that a VM exit is
 * expensive; this step says how expensive. It runs a small guest
 * (guest/bench.S) in step 9's machine (long mode, the interrupt
 * controllers in the kernel) that makes one kind of exit over and over,
 * each timed by the guest with rdtsc and by us with the clock, and
 * measures what a VMM pays for each kind:
 *
 *   - KVM_RUN with immediate_exit: into the kernel and back, no guest;
 *   - an out to a port, and a write where there is no RAM (MMIO), both
 *     handed to us;
 *   - an in from the PIC and a cpuid, both answered by KVM in the kernel;
 *   - a doorbell write handed to us, against the same write turned into
 *     an eventfd by KVM (KVM_IOEVENTFD), as virtio devices do;
 *   - creating a VM, a vCPU, and setting memory slots of three sizes.
 *
 * Each exit's figure comes with a bare loop of the same ioctl that does
 * nothing else, run in the same way: their ratio is what our own code
 * adds. Figures are medians with their spread (the quartiles), the
 * first batch of each (the warm-up) left out.
 *
 * KVM, step by step, chapter 13. Build and run:
 *
 *     make step13 && ./step13      every figure, as a table
 *     ./step13 --short             fewer repetitions (the tests)
 *     ./step13 --csv FILE          ... and the figures as CSV too
 *     make bench                   the table, the CSV and a chart in build/bench/
 *
 * Exit status: 0 every figure was measured; 1 the guest did not do what
 * it should (an exit we did not expect, a timeout); 2 usage or host
 * setup error; 77 this host's KVM cannot run the step (no in-kernel
 * irqchip, no ioeventfd, no immediate_exit).
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
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The number of elements of an array (not of a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* listing: bench-memory-map */
/*
 * Guest-physical memory: step 9's 2 MiB of RAM at address 0, with its
 * GDT, its page tables and its stack, and the guest's samples between
 * the tables and the stack. Far above the RAM, the page of the bench's
 * device: a register and a doorbell, where every access is a VM exit.
 *
 *   0x000500 +--------------------------+ <- GDTR
 *            | GDT: 3 descriptors       |
 *   0x001000 +--------------------------+ <- RIP, at each batch
 *            | guest/bench.S            |
 *   0x100000 +--------------------------+ <- CR3
 *            | page tables (as step 9)  |
 *   0x110000 +--------------------------+ <- r8
 *            | samples: cycles per exit |
 *   0x1f0000 +--------------------------+
 *            | stack                    |
 *   0x200000 +--------------------------+ <- RSP
 *                        ...  no RAM
 * 0xd0000000 | the device's register    | <- r10 (KVM_EXIT_MMIO)
 * 0xd0000050 | the device's doorbell    | <- r11 (ours, or an ioeventfd)
 */
#define GUEST_MEM_SIZE     0x200000
#define GUEST_GDT_ADDR     0x500
#define GUEST_LOAD_ADDR    0x1000
#define GUEST_PML4_ADDR    0x100000
#define GUEST_PDPT_LOW     0x101000
#define GUEST_PDPT_HIGH    0x102000
#define GUEST_PD_ADDR      0x103000
#define GUEST_PD_DEVICES   0x104000
#define GUEST_STACK_TOP    0x200000
#define BENCH_SAMPLES_ADDR 0x110000
#define BENCH_SAMPLES_MAX  ((0x1f0000 - BENCH_SAMPLES_ADDR) / 8)
#define BENCH_MMIO_BASE    0xd0000000ULL
#define BENCH_MMIO_REG     (BENCH_MMIO_BASE + 0x00)
#define BENCH_DOORBELL     (BENCH_MMIO_BASE + 0x50)
#define BENCH_USER_PORT    0x500
#define BENCH_DONE_PORT    0x501
/* end listing: bench-memory-map */

/* The high half: the same 2 MiB, mapped again from here up. */
#define GUEST_HIGH_HALF    0xffffffff80000000ULL

/* The GDT's entries; a selector is the entry's byte offset in the table
 * (index * 8; its low 3 bits, table and privilege, are 0 here). */
#define GDT_NULL           0x00
#define GDT_CODE           0x08
#define GDT_DATA           0x10
#define GDT_ENTRIES        3

/* Control register and EFER bits this step uses. */
#define CR0_PE             (1u << 0)   /* protection enable */
#define CR0_ET             (1u << 4)   /* extension type: always 1 */
#define CR0_WP             (1u << 16)  /* write protect, also for the kernel */
#define CR0_PG             (1u << 31)  /* paging */
#define CR4_PAE            (1u << 5)   /* 64-bit page table entries */
#define EFER_LME           (1u << 8)   /* long mode enable */
#define EFER_LMA           (1u << 10)  /* long mode active (set by the CPU) */

/* Page table entry bits (the same at every level; see pte()). */
#define PTE_P              (1ull << 0) /* present */
#define PTE_W              (1ull << 1) /* writable */
#define PTE_PWT            (1ull << 3) /* write-through: no write-back cache */
#define PTE_PCD            (1ull << 4) /* cache disable: every access goes out */
#define PTE_PS             (1ull << 7) /* page size: in a PD, a 2 MiB page */

#define DEFAULT_DEVICE     "/dev/kvm"
#define DEFAULT_TIMEOUT    10.0   /* seconds; --timeout 0 turns it off */

/* The embedded guest: guest/bench.S (see guest/embed.S). */
extern const unsigned char guest_bench64[], guest_bench64_end[];

static const char *program = "step13";

/* What the command line asked for. */
struct options {
	int trace;              /* --trace: print every exit that reaches us */
	double timeout;         /* --timeout SECONDS: per batch; 0 means no watchdog */
	int short_run;          /* --short: fewer repetitions */
	const char *csv_path;   /* --csv FILE, or NULL */
	const char *only;       /* --only FIGURE, or NULL: every figure */
	unsigned rounds;        /* rounds of batches, alternating bare and ours */
	unsigned batches;       /* batches per round (one more, the warm-up, first) */
	unsigned per_batch;     /* exits per batch (a tenth, ten times as many
				   batches, for exits KVM keeps) */
	unsigned creations;     /* repetitions of each creation figure */
};

/* The VM and its one vCPU: file descriptors, the memory we share, and
 * what reached us. */
struct vm {
	int kvm_fd;             /* /dev/kvm: system-wide ioctls */
	int vm_fd;              /* KVM_CREATE_VM: this virtual machine */
	int vcpu_fd;            /* KVM_CREATE_VCPU: its processor */
	uint8_t *mem;           /* guest RAM, as the host sees it */
	struct kvm_run *run;    /* the vCPU's shared page: why KVM_RUN returned */
	size_t run_size;
	int trace;              /* --trace */
	unsigned long exits;    /* exits that reached us, of every batch */
	uint64_t port_writes;   /* what the device saw: writes to its port, */
	uint64_t mmio_writes;   /* to its register, */
	uint64_t doorbells;     /* to its doorbell (ours, not the eventfd's) */
	uint64_t last_value;    /* the last value written */
};

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
		"usage: %s [--short] [--csv FILE] [--only FIGURE] [--trace] [--timeout SECONDS]\n"
		"       %*s [--help]\n"
		"\n"
		"Measures what each kind of VM exit costs, and what creating a VM, a vCPU\n"
		"and a memory slot costs, on this machine's KVM. Its guest (64-bit long\n"
		"mode, the PIC and APICs in the kernel) makes one kind of exit over and\n"
		"over, timing each with rdtsc; we time each KVM_RUN with the clock. Each\n"
		"exit's figure is compared with a bare loop of the same ioctl that does\n"
		"nothing else: the ratio is what this program's own code adds. The table\n"
		"goes to standard output, a progress line per figure to standard error.\n"
		"Figures are medians and quartiles (q1, q3); the first batch (the warm-up)\n"
		"is left out. It runs no guest of yours (no --guest).\n"
		"\n"
		"  --short            fewer repetitions: a quick run (the tests use it)\n"
		"  --csv FILE         write the figures as CSV to FILE too (-: to standard\n"
		"                     output, after the table)\n"
		"  --only FIGURE      measure one figure (the names of the table's first column)\n"
		"  --trace            print every exit that reaches us (slows ours down)\n"
		"  --timeout SECONDS  stop a batch still running after this long\n"
		"                     (default %g, 0 = never)\n"
		"  --help             this text\n"
		"\n"
		"The device is %s, or $KVM_DEVICE if set.\n"
		"Exit status: 0 every figure measured, 1 the guest failed, 2 usage or host\n"
		"setup error, 77 this host's KVM cannot run this step.\n",
		program, (int)strlen(program), "", DEFAULT_TIMEOUT, DEFAULT_DEVICE);
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

/* How many times to repeat what: a full run, or --short. */
static void options_set_counts(struct options *opt)
{
	opt->rounds = opt->short_run ? 2 : 4;
	opt->batches = opt->short_run ? 2 : 5;
	opt->per_batch = opt->short_run ? 100 : 500;
	opt->creations = opt->short_run ? 20 : 200;
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
		} else if (!strcmp(arg, "--short")) {
			opt.short_run = 1;
		} else if (!strcmp(arg, "--csv") || !strcmp(arg, "--only") ||
			   !strcmp(arg, "--timeout")) {
			if (i + 1 >= argc)
				die(2, "%s needs a value (see --help)", arg);
			if (!strcmp(arg, "--csv"))
				opt.csv_path = argv[++i];
			else if (!strcmp(arg, "--only"))
				opt.only = argv[++i];
			else
				opt.timeout = parse_seconds(argv[++i]);
		} else {
			fprintf(stderr, "%s: unknown option \"%s\"\n", program, arg);
			usage(stderr);
			exit(2);
		}
	}
	options_set_counts(&opt);
	return opt;
}

/* ------------------------------------------------------------------ */
/* Opening /dev/kvm                                                    */

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

/* ------------------------------------------------------------------ */
/* The VM, its memory and its vCPU (steps 2, 3 and 9)                  */

/* Create the VM and give it GUEST_MEM_SIZE bytes of RAM at guest-physical
 * address 0, backed by anonymous memory of ours. */
static void vm_create(struct vm *vm)
{
	struct kvm_userspace_memory_region region;

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)
		die(2, "this KVM lacks KVM_CAP_USER_MEMORY, which every step needs");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		die_no_kvm("KVM_CREATE_VM failed: %s\n"
		    "  Is another hypervisor holding the hardware? See dmesg.", strerror(errno));

	/* Intel VT-x runs real mode through a task-state segment that KVM
	 * keeps in three pages of guest-physical space we do not use: just
	 * below the BIOS area at the top of 4 GiB, far above our RAM. */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		kvm_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)0xfffbd000UL,
			  "KVM_SET_TSS_ADDR", "See dmesg.");

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

/*
 * The in-kernel interrupt controllers (step 9): KVM_CREATE_IRQCHIP gives
 * the two 8259A PICs (ports 0x20-0x21, 0xa0-0xa1), an I/O APIC and a
 * local APIC; KVM_CREATE_PIT2 gives the 8254 PIT. Their ports never exit
 * to us: an in from the PIC is this step's exit that KVM keeps. Both
 * must come before the vCPU is created. A KVM without them cannot run
 * this step: status 77, from its own answers.
 */
static void vm_create_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = 0 };

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0)
		die(77, "this KVM has no in-kernel interrupt controller (KVM_CAP_IRQCHIP),\n"
		    "  which step 13 needs. Run it in the lab: make lab CMD=./step13");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0)
		die(77, "this KVM has no in-kernel timer (KVM_CAP_PIT2), which step 13\n"
		    "  needs. Run it in the lab: make lab CMD=./step13");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		die(errno == EINVAL || errno == ENOTTY ? 77 : 2,
		    "KVM_CREATE_IRQCHIP failed: %s\n  This KVM cannot emulate the PIC and APICs"
		    " in the kernel; see dmesg.", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		die(errno == EINVAL || errno == ENOTTY ? 77 : 2,
		    "KVM_CREATE_PIT2 failed: %s\n  This KVM cannot emulate the PIT in the"
		    " kernel; see dmesg.", strerror(errno));
}

/* What else the measurements need from KVM: immediate_exit (the bare
 * round trip) and ioeventfds. Without them: status 77, KVM's answer. */
static void kvm_check_bench_caps(struct vm *vm)
{
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0)
		die(77, "this KVM has no KVM_CAP_IMMEDIATE_EXIT, which step 13 needs to\n"
		    "  time a bare KVM_RUN. Run it in the lab: make lab CMD=./step13");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) <= 0)
		die(77, "this KVM has no KVM_CAP_IOEVENTFD, which step 13 needs to\n"
		    "  time a doorbell KVM keeps. Run it in the lab: make lab CMD=./step13");
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
/* Long mode, as in step 9                                             */

/* In long mode segmentation is almost gone: base and limit are ignored
 * for code and data (FS and GS keep a base). What remains is CS's l bit,
 * which selects 64-bit code, and the privilege level. db must be 0 when
 * l is 1 (the combination l=1, db=1 is reserved). */
static const struct kvm_segment flat_code64 = {
	.selector = GDT_CODE,
	.base = 0,
	.limit = 0xffffffff,
	.type = 0xb,            /* code: execute/read, accessed */
	.s = 1,                 /* a code or data segment, not a system one */
	.dpl = 0,               /* kernel */
	.present = 1,
	.db = 0,                /* must be 0 for 64-bit code */
	.l = 1,                 /* 64-bit code */
	.g = 1,
};

/* The data segment is as in step 5: its bits are not used in 64-bit
 * mode, but SS must still hold a present, writable segment. */
static const struct kvm_segment flat_data = {
	.selector = GDT_DATA,
	.base = 0,
	.limit = 0xffffffff,
	.type = 0x3,            /* data: read/write, accessed */
	.s = 1,
	.dpl = 0,
	.present = 1,
	.db = 1,
	.l = 0,
	.g = 1,
};

/*
 * Pack a segment into the 8-byte descriptor the CPU reads from the GDT.
 * The fields are scattered for compatibility with the 80286:
 *
 *  63        56 55 54 53 52 51         48 47 46 45 44 43  40 39        32
 * +------------+--+--+--+--+-------------+--+-----+--+------+------------+
 * | base 31:24 |G |DB|L |AV| limit 19:16 |P | DPL |S | type | base 23:16 |
 * +------------+--+--+--+--+-------------+--+-----+--+------+------------+
 *  31                              16 15                                0
 * +----------------------------------+-----------------------------------+
 * |            base 15:0             |             limit 15:0            |
 * +----------------------------------+-----------------------------------+
 *
 * As in step 5, with bit 53, L, now set in the code descriptor: 64-bit
 * code. Type 0xb: code (8) + readable (2) + accessed (1); type 0x3:
 * writable (2) + accessed (1).
 */
static uint64_t gdt_entry(const struct kvm_segment *seg)
{
	uint64_t limit = seg->g ? seg->limit >> 12 : seg->limit;
	uint64_t base = seg->base;
	uint64_t d = 0;

	d |= limit & 0xffff;                        /* bits 15:0  */
	d |= (base & 0xffffff) << 16;               /* bits 39:16 */
	d |= (uint64_t)(seg->type & 0xf) << 40;
	d |= (uint64_t)(seg->s & 1) << 44;
	d |= (uint64_t)(seg->dpl & 3) << 45;
	d |= (uint64_t)(seg->present & 1) << 47;
	d |= ((limit >> 16) & 0xf) << 48;           /* bits 51:48 */
	d |= (uint64_t)(seg->avl & 1) << 52;
	d |= (uint64_t)(seg->l & 1) << 53;
	d |= (uint64_t)(seg->db & 1) << 54;
	d |= (uint64_t)(seg->g & 1) << 55;
	d |= ((base >> 24) & 0xff) << 56;           /* bits 63:56 */
	return d;
}

/* Write the GDT into guest memory: entry 0 must be null (a selector of 0
 * means "no segment"), then code and data. Returns nothing: the vCPU
 * learns where the table is from sregs.gdt (the GDTR). */
static void guest_build_gdt(struct vm *vm)
{
	uint64_t gdt[GDT_ENTRIES] = {
		[GDT_NULL / 8] = 0,
		[GDT_CODE / 8] = gdt_entry(&flat_code64),
		[GDT_DATA / 8] = gdt_entry(&flat_data),
	};

	memcpy(vm->mem + GUEST_GDT_ADDR, gdt, sizeof(gdt));
}

/*
 * One page table entry, the same 64-bit format at every level (PAE and
 * long mode; step 6 draws the 32-bit kind):
 *
 *  63 62    52 51                    12 11  9 8  7  6  5  4   3   2  1  0
 * +--+--------+------------------------+-----+--+--+--+--+---+---+--+--+--+
 * |XD| avail. | physical address 51:12 |avail|G |PS|D |A |PCD|PWT|US|RW|P |
 * +--+--------+------------------------+-----+--+--+--+--+---+---+--+--+--+
 *
 * P: present. RW: writable. US: user (CPL 3) may use it. A, D: accessed
 * and dirty, set by the CPU. PS: in a PD entry, this maps a 2 MiB page
 * (the address is then bits 51:21) instead of pointing to a page table.
 * XD: no execute. Everything here is P and RW, kernel-only.
 */
static uint64_t pte(uint64_t physical, uint64_t flags)
{
	return (physical & 0x000ffffffffff000ULL) | flags;
}

/* Write one entry of the table at guest-physical address table. */
static void table_set(struct vm *vm, uint64_t table, int index, uint64_t entry)
{
	memcpy(vm->mem + table + index * 8, &entry, sizeof(entry));
}

/*
 * Map the 2 MiB of RAM at virtual 0 and again at the high half, as in
 * step 9, and the bench device's 2 MiB at their own physical address,
 * uncached (PCD, PWT): every access to the device must reach it.
 *
 * 0x0000000000001000: PML4[0]   -> PDPT_LOW[0]    -> PD[0]         -> RAM
 * 0xffffffff80001000: PML4[511] -> PDPT_HIGH[510] -> PD[0]         -> RAM
 * 0x00000000d0000000: PML4[0]   -> PDPT_LOW[3]    -> PD_DEVICES[128]
 *                                                      -> 0xd0000000
 */
static void guest_build_page_tables(struct vm *vm)
{
	table_set(vm, GUEST_PD_ADDR, 0, pte(0, PTE_P | PTE_W | PTE_PS));
	table_set(vm, GUEST_PDPT_LOW, 0, pte(GUEST_PD_ADDR, PTE_P | PTE_W));
	table_set(vm, GUEST_PML4_ADDR, 0, pte(GUEST_PDPT_LOW, PTE_P | PTE_W));
	table_set(vm, GUEST_PDPT_HIGH, (GUEST_HIGH_HALF >> 30) & 511,
		  pte(GUEST_PD_ADDR, PTE_P | PTE_W));
	table_set(vm, GUEST_PML4_ADDR, (GUEST_HIGH_HALF >> 39) & 511,
		  pte(GUEST_PDPT_HIGH, PTE_P | PTE_W));
	table_set(vm, GUEST_PD_DEVICES, (BENCH_MMIO_BASE >> 21) & 511,
		  pte(BENCH_MMIO_BASE, PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT));
	table_set(vm, GUEST_PDPT_LOW, (BENCH_MMIO_BASE >> 30) & 511,
		  pte(GUEST_PD_DEVICES, PTE_P | PTE_W));
}

/* Put the vCPU in 64-bit long mode, all in one KVM_SET_SREGS: paging on
 * with CR3 at the PML4, CR4.PAE, EFER.LME and LMA, and CS a 64-bit code
 * segment; no IDT (limit 0), until the guest loads one. RIP is the load
 * address, RSP the top of memory. */
static void vcpu_setup_long_mode(struct vm *vm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", "See dmesg.");
	sregs.gdt.base = GUEST_GDT_ADDR;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.idt.base = 0;             /* no IDT: the guest loads its own */
	sregs.idt.limit = 0;
	sregs.cs = flat_code64;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_data;
	sregs.cr3 = GUEST_PML4_ADDR;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_WP | CR0_PG;
	kvm_ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS",
		  "KVM refused this long-mode state; see dmesg.");

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;              /* bit 1 is reserved and always 1 */
	regs.rip = GUEST_LOAD_ADDR;
	regs.rsp = GUEST_STACK_TOP;
	kvm_ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
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
	static char unknown[64];

	if (reason < ARRAY_SIZE(exit_names) && exit_names[reason])
		return exit_names[reason];
	snprintf(unknown, sizeof(unknown), "exit reason %u (not known to %s)", reason,
		 program);
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
	fprintf(out, "  cs %04x (l %u db %u)  ss %04x  cr0 %08llx  cr3 %llx  cr4 %llx  efer %llx\n",
		s.cs.selector, s.cs.l, s.cs.db, s.ss.selector, s.cr0, s.cr3, s.cr4, s.efer);
	fprintf(out, "  cr2 %llx (the address of the last page fault, if any)\n", s.cr2);
}

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
	/* SA_RESTART: a read or write of ours that the signal interrupts is
	 * restarted; KVM_RUN is not, it returns EINTR as we want. */
	struct sigaction sa = { .sa_handler = watchdog_handler, .sa_flags = SA_RESTART };
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

/* Disarm the watchdog: a figure's batches are over, and what comes next
 * (creating VMs) runs no guest. */
static void watchdog_stop(void)
{
	struct itimerval timer = { 0 };

	if (setitimer(ITIMER_REAL, &timer, NULL) < 0)
		die(2, "setitimer: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* Samples and their statistics                                        */

/* A growing list of samples: nanoseconds, or the guest's cycles. */
struct samples {
	double *v;
	size_t n, cap;
};

/* Add one sample, growing the list as needed. */
static void samples_add(struct samples *s, double value)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die(2, "out of memory for %zu samples", s->cap);
	}
	s->v[s->n++] = value;
}

/* qsort's order for samples: the smaller first. (x > y) - (x < y) is
 * -1, 0 or 1 without the overflow a subtraction could have. */
static int double_compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A figure's summary: how many samples, their median and quartiles. */
struct summary {
	size_t n;
	double median, q1, q3;
};

/* Summarize the samples, sorted in place: the median and the quartiles
 * by nearest rank. No samples: all zero. */
static struct summary samples_summary(struct samples *s)
{
	struct summary sum = { .n = s->n };

	if (s->n == 0)
		return sum;
	qsort(s->v, s->n, sizeof(*s->v), double_compare);
	sum.q1 = s->v[(s->n - 1) / 4];
	sum.median = s->v[(s->n - 1) / 2];
	sum.q3 = s->v[(s->n - 1) * 3 / 4];
	return sum;
}

/* The monotonic clock, in nanoseconds. */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* The figures                                                         */

/* The guest's loops (rdi at each batch; guest/bench.S has the same). */
enum bench_kind {
	BENCH_PIO_USER = 0,     /* out to BENCH_USER_PORT: ours */
	BENCH_MMIO_USER = 1,    /* a write to BENCH_MMIO_REG: ours */
	BENCH_PIO_KERNEL = 2,   /* in from the PIC: KVM's */
	BENCH_CPUID = 3,        /* cpuid: KVM's */
	BENCH_NOTIFY = 4,       /* a write to BENCH_DOORBELL: ours, or an ioeventfd */
	BENCH_NO_GUEST = -1,    /* a figure without the guest */
};

/* What one figure measured: ours (the step's own loop), the bare loop
 * of the same ioctl, and the guest's cycles per exit. */
struct result {
	struct samples ours, bare, cycles;
};

/* One row of the table: its name, what it is, who handles the exit
 * (us, KVM, or nobody: no exit), the guest's loop, and how to measure. */
struct figure {
	const char *name;
	const char *what;
	const char *handler;    /* "us", "KVM", "-" */
	enum bench_kind kind;
	int ioeventfd;          /* the doorbell is an ioeventfd */
	uint64_t slot_size;     /* memslot figures: the slot's size */
	void (*measure)(struct vm *vm, const struct figure *f,
			const struct options *opt, struct result *r);
};

/* Whether the figure's exits come back to us, each its own return from
 * KVM_RUN, or KVM keeps them all and the batch is one KVM_RUN. */
static int figure_exits_to_us(const struct figure *f)
{
	return !strcmp(f->handler, "us");
}

/* Why a batch ended, from one exit that reached us. */
enum exit_verdict { EXIT_HANDLED, EXIT_DONE };

/* Print one exit for --trace: its name and what it carried. */
static void trace_bench_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;

	fprintf(stderr, "[trace] %s", exit_name(run->exit_reason));
	if (run->exit_reason == KVM_EXIT_IO)
		fprintf(stderr, "  %s port 0x%x size %u count %u\n",
			run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.port,
			run->io.size, run->io.count);
	else if (run->exit_reason == KVM_EXIT_MMIO)
		fprintf(stderr, "  %s %u bytes at 0x%llx\n", run->mmio.is_write ? "write" : "read",
			run->mmio.len, (unsigned long long)run->mmio.phys_addr);
	else
		fputc('\n', stderr);
}

/* An exit this step did not ask for: say which, where the guest was,
 * during which figure, and end with status 1. */
static _Noreturn void bench_unexpected(struct vm *vm, const struct figure *f)
{
	struct kvm_run *run = vm->run;

	fflush(stdout);
	fprintf(stderr, "%s: %s: unexpected %s", program, f->name, exit_name(run->exit_reason));
	if (run->exit_reason == KVM_EXIT_IO)
		fprintf(stderr, " (%s port 0x%x, size %u)",
			run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.port,
			run->io.size);
	else if (run->exit_reason == KVM_EXIT_MMIO)
		fprintf(stderr, " (%s of %u bytes at 0x%llx)", run->mmio.is_write ? "write" : "read",
			run->mmio.len, (unsigned long long)run->mmio.phys_addr);
	else if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		fprintf(stderr, " (suberror %u)", run->internal.suberror);
	fputc('\n', stderr);
	vcpu_dump(vm, stderr);
	exit(1);
}

/* listing: bench-handle */
/* Our device, as a VMM's would be: an exit comes in, we look at what
 * the guest did and where, and answer it. Writes to the port, the
 * register and the doorbell are counted; the "done" port ends the batch.
 * Anything else is not the guest we wrote: status 1. */
static enum exit_verdict bench_handle_exit(struct vm *vm, const struct figure *f)
{
	struct kvm_run *run = vm->run;

	vm->exits++;
	if (vm->trace)
		trace_bench_exit(vm);
	if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
	    run->io.size == 1 && run->io.count == 1) {
		if (run->io.port == BENCH_DONE_PORT)
			return EXIT_DONE;
		if (run->io.port == BENCH_USER_PORT) {
			vm->port_writes++;
			vm->last_value = *((uint8_t *)run + run->io.data_offset);
			return EXIT_HANDLED;
		}
	}
	if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write && run->mmio.len == 4) {
		uint32_t value;

		memcpy(&value, run->mmio.data, sizeof(value));
		if (run->mmio.phys_addr == BENCH_MMIO_REG) {
			vm->mmio_writes++;
			vm->last_value = value;
			return EXIT_HANDLED;
		}
		if (run->mmio.phys_addr == BENCH_DOORBELL) {
			vm->doorbells++;
			vm->last_value = value;
			return EXIT_HANDLED;
		}
	}
	bench_unexpected(vm, f);
}
/* end listing: bench-handle */

/* KVM_RUN, once. On EINTR from the watchdog: say which figure's batch
 * ran too long, show the registers and end with status 1. */
static void vcpu_run_checked(struct vm *vm, const struct figure *f, const struct options *opt)
{
	if (ioctl(vm->vcpu_fd, KVM_RUN, 0) == 0)
		return;
	if (errno == EINTR && watchdog_fired) {
		fflush(stdout);
		fprintf(stderr, "%s: %s: timeout: a batch was still running after %g s\n",
			program, f->name, opt->timeout);
		vcpu_dump(vm, stderr);
		exit(1);
	}
	die(2, "KVM_RUN failed: %s\n  See dmesg for what KVM reported.", strerror(errno));
}

/* Start a batch: the guest at its first byte with its orders in its
 * registers (see guest/bench.S), and the watchdog armed for it. */
static void batch_start(struct vm *vm, const struct figure *f, const struct options *opt,
			unsigned count)
{
	struct kvm_regs regs = { 0 };

	regs.rflags = 0x2;              /* bit 1 is reserved and always 1 */
	regs.rip = GUEST_LOAD_ADDR;
	regs.rsp = GUEST_STACK_TOP;
	regs.rdi = f->kind;
	regs.rsi = count;
	regs.r8 = BENCH_SAMPLES_ADDR;
	regs.r10 = BENCH_MMIO_REG;
	regs.r11 = BENCH_DOORBELL;
	kvm_ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
	memset(vm->mem + BENCH_SAMPLES_ADDR, 0, (size_t)count * 8);
	watchdog_start(vm, opt->timeout);
}

/* listing: bench-loops */
/* One batch through our own loop: each KVM_RUN, each exit handled by
 * bench_handle_exit. An exit that reaches us is timed from the start of
 * one KVM_RUN to the start of the next: KVM, the guest and our answer.
 * Exits that KVM keeps are timed together, one KVM_RUN for the batch,
 * and shared out. The guest's own count of cycles is kept too. */
static void batch_ours(struct vm *vm, const struct figure *f, const struct options *opt,
		       unsigned count, struct result *r)
{
	double start, t;

	batch_start(vm, f, opt, count);
	start = now_ns();
	for (;;) {
		vcpu_run_checked(vm, f, opt);
		if (bench_handle_exit(vm, f) == EXIT_DONE)
			break;
		t = now_ns();
		samples_add(&r->ours, t - start);
		start = t;
	}
	if (!figure_exits_to_us(f))
		samples_add(&r->ours, (now_ns() - start) / count);
}

/* The same batch through the bare loop: KVM_RUN and the clock, and just
 * enough of a look at the exit to see the batch end. */
static void batch_bare(struct vm *vm, const struct figure *f, const struct options *opt,
		       unsigned count, struct result *r)
{
	double start, t;

	batch_start(vm, f, opt, count);
	start = now_ns();
	for (;;) {
		vcpu_run_checked(vm, f, opt);
		if (vm->run->exit_reason == KVM_EXIT_IO && vm->run->io.port == BENCH_DONE_PORT)
			break;
		t = now_ns();
		samples_add(&r->bare, t - start);
		start = t;
	}
	if (!figure_exits_to_us(f))
		samples_add(&r->bare, (now_ns() - start) / count);
}
/* end listing: bench-loops */

/* After a batch of ours: the guest's cycles per exit, from its samples. */
static void batch_cycles(struct vm *vm, unsigned count, struct result *r)
{
	uint64_t cycles;

	for (unsigned i = 0; i < count; i++) {
		memcpy(&cycles, vm->mem + BENCH_SAMPLES_ADDR + (size_t)i * 8, sizeof(cycles));
		samples_add(&r->cycles, (double)cycles);
	}
}

/* After a batch with an ioeventfd (fd), the proof that it worked: its
 * counter must hold one count per doorbell write, and none of them may
 * have reached us. Reading the counter sets it back to 0. */
static void doorbell_check(struct vm *vm, const struct figure *f, int fd, unsigned count,
			   uint64_t doorbells_before)
{
	uint64_t signalled = 0;

	if (fd < 0)
		return;
	if (read(fd, &signalled, sizeof(signalled)) < 0 && errno != EAGAIN)
		die(2, "read of the ioeventfd's eventfd: %s", strerror(errno));
	if (signalled != count || vm->doorbells != doorbells_before)
		die(1, "%s: the ioeventfd counted %llu of %u doorbell writes, and %llu reached us",
		    f->name, (unsigned long long)signalled, count,
		    (unsigned long long)(vm->doorbells - doorbells_before));
}

/* listing: ioeventfd */
/* Turn writes to the doorbell into an eventfd's count, inside KVM
 * (KVM_IOEVENTFD): any 4-byte write there bumps the counter and the
 * guest goes on, with no exit to us. deassign = 1 undoes it. Returns the
 * eventfd, which a device's thread would wait on. */
static int doorbell_ioeventfd(struct vm *vm, int fd, int deassign)
{
	struct kvm_ioeventfd io = {
		.addr = BENCH_DOORBELL,
		.len = 4,
		.flags = deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0,
	};

	if (fd < 0)
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		die(2, "eventfd: %s", strerror(errno));
	io.fd = fd;
	kvm_ioctl(vm->vm_fd, KVM_IOEVENTFD, &io, "KVM_IOEVENTFD",
		  "KVM refused the doorbell's ioeventfd; see dmesg.");
	return fd;
}
/* end listing: ioeventfd */

/* An exit figure: rounds of batches, the bare loop's and ours in turn
 * so that both see the machine alike; the first of each is the
 * warm-up, measured and thrown away. */
static void measure_exits(struct vm *vm, const struct figure *f, const struct options *opt,
			  struct result *r)
{
	int to_us = figure_exits_to_us(f);
	unsigned count = to_us ? opt->per_batch : opt->per_batch / 10;
	unsigned batches = to_us ? opt->batches : opt->batches * 10;
	int fd = f->ioeventfd ? doorbell_ioeventfd(vm, -1, 0) : -1;
	struct result warm = { 0 };

	for (unsigned round = 0; round < opt->rounds; round++) {
		for (unsigned b = round == 0 ? 0 : 1; b <= batches; b++) {
			struct result *to = b == 0 ? &warm : r;
			uint64_t before = vm->doorbells;

			batch_bare(vm, f, opt, count, to);
			doorbell_check(vm, f, fd, count, before);
			batch_ours(vm, f, opt, count, to);
			doorbell_check(vm, f, fd, count, before);
			batch_cycles(vm, count, to);
		}
	}
	watchdog_stop();
	if (fd >= 0) {
		doorbell_ioeventfd(vm, fd, 1);
		close(fd);
	}
	free(warm.ours.v);
	free(warm.bare.v);
	free(warm.cycles.v);
}

/* KVM_RUN with immediate_exit set: KVM returns EINTR before it enters
 * the guest. What is left is the cost of the ioctl itself: the system
 * call, KVM's checks, loading and saving the vCPU's state. */
static void measure_immediate(struct vm *vm, const struct figure *f,
			      const struct options *opt, struct result *r)
{
	unsigned count = opt->rounds * opt->batches * opt->per_batch;
	double start;

	(void)f;
	vm->run->immediate_exit = 1;
	for (unsigned i = 0; i < count + opt->per_batch; i++) {
		struct samples *to = i % 2 ? &r->ours : &r->bare;

		start = now_ns();
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) == 0)
			die(2, "KVM_RUN with immediate_exit entered the guest (it returned 0,"
			    " not EINTR)\n  See dmesg for what KVM reported.");
		if (errno != EINTR)
			die(2, "KVM_RUN with immediate_exit failed: %s\n  See dmesg for what KVM"
			    " reported.", strerror(errno));
		if (to == &r->ours)
			vm->exits++;    /* ours: counted, as every return is */
		if (i >= opt->per_batch)
			samples_add(to, now_ns() - start);
	}
	vm->run->immediate_exit = 0;
}

/* KVM_CREATE_VM, timed; closing the VM is not. */
static void measure_vm_create(struct vm *vm, const struct figure *f,
			      const struct options *opt, struct result *r)
{
	(void)f;
	for (unsigned i = 0; i < opt->creations + 1; i++) {
		double start = now_ns();
		int fd = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM", "See dmesg.");

		if (i > 0)
			samples_add(&r->ours, now_ns() - start);
		close(fd);
	}
}

/* KVM_CREATE_VCPU in a new VM each time: the VM is not timed. */
static void measure_vcpu_create(struct vm *vm, const struct figure *f,
				const struct options *opt, struct result *r)
{
	(void)f;
	for (unsigned i = 0; i < opt->creations + 1; i++) {
		int vm_fd = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM", "See dmesg.");
		double start = now_ns();
		int fd = kvm_ioctl(vm_fd, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU", "See dmesg.");

		if (i > 0)
			samples_add(&r->ours, now_ns() - start);
		close(fd);
		close(vm_fd);
	}
}

/* listing: memslot */
/* KVM_SET_USER_MEMORY_REGION: a slot of f->slot_size bytes (memory we
 * reserve but never touch) at 4 GiB, timed, then deleted (size 0), not
 * timed. KVM only takes note of a slot: its pages come at first use. */
static void measure_memslot(struct vm *vm, const struct figure *f,
			    const struct options *opt, struct result *r)
{
	struct kvm_userspace_memory_region region = {
		.slot = 1,
		.guest_phys_addr = 0x100000000ULL,
	};
	void *mem = mmap(NULL, f->slot_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (mem == MAP_FAILED)
		die(2, "mmap of %llu bytes for %s: %s", (unsigned long long)f->slot_size,
		    f->name, strerror(errno));
	region.userspace_addr = (uintptr_t)mem;
	for (unsigned i = 0; i < opt->creations + 1; i++) {
		double start = now_ns();

		region.memory_size = f->slot_size;
		kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region,
			  "KVM_SET_USER_MEMORY_REGION", "See dmesg.");
		if (i > 0)
			samples_add(&r->ours, now_ns() - start);
		region.memory_size = 0;
		kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region,
			  "KVM_SET_USER_MEMORY_REGION", "See dmesg.");
	}
	munmap(mem, f->slot_size);
}
/* end listing: memslot */

/* listing: figures */
/* Every figure, in the table's order. */
static const struct figure figures[] = {
	{ "run-immediate", "KVM_RUN with immediate_exit: no guest", "-",
	  BENCH_NO_GUEST, 0, 0, measure_immediate },
	{ "pio-user", "out to a port, KVM_EXIT_IO", "us",
	  BENCH_PIO_USER, 0, 0, measure_exits },
	{ "mmio-user", "a write with no RAM, KVM_EXIT_MMIO", "us",
	  BENCH_MMIO_USER, 0, 0, measure_exits },
	{ "pio-kernel", "in from the in-kernel PIC", "KVM",
	  BENCH_PIO_KERNEL, 0, 0, measure_exits },
	{ "cpuid", "cpuid, answered by KVM", "KVM",
	  BENCH_CPUID, 0, 0, measure_exits },
	{ "notify-user", "a doorbell write, KVM_EXIT_MMIO", "us",
	  BENCH_NOTIFY, 0, 0, measure_exits },
	{ "notify-ioeventfd", "the same write, an ioeventfd", "KVM",
	  BENCH_NOTIFY, 1, 0, measure_exits },
	{ "vm-create", "KVM_CREATE_VM", "-",
	  BENCH_NO_GUEST, 0, 0, measure_vm_create },
	{ "vcpu-create", "KVM_CREATE_VCPU", "-",
	  BENCH_NO_GUEST, 0, 0, measure_vcpu_create },
	{ "memslot-2M", "KVM_SET_USER_MEMORY_REGION, 2 MiB", "-",
	  BENCH_NO_GUEST, 0, 2ULL << 20, measure_memslot },
	{ "memslot-128M", "KVM_SET_USER_MEMORY_REGION, 128 MiB", "-",
	  BENCH_NO_GUEST, 0, 128ULL << 20, measure_memslot },
	{ "memslot-1G", "KVM_SET_USER_MEMORY_REGION, 1 GiB", "-",
	  BENCH_NO_GUEST, 0, 1ULL << 30, measure_memslot },
};
/* end listing: figures */

/* ------------------------------------------------------------------ */
/* The machine, the table and the CSV                                  */

/* The KVM module that answers /dev/kvm: the first of these loaded. */
static const char *kvm_module_name(void)
{
	static const char *const modules[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
	char path[64];

	for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", modules[i]);
		if (access(path, F_OK) == 0)
			return modules[i];
	}
	return "an unknown KVM module";
}

/* The processor's name, from /proc/cpuinfo's first "model name" line,
 * into buf. */
static const char *cpu_model_name(char *buf, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, size, "an unknown processor");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon += strspn(colon + 1, " \t") + 1;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, size, "%s", colon);
		break;
	}
	if (f)
		fclose(f);
	return buf;
}

/* The table's head: the machine, the counts, the columns. */
static void table_head(const struct options *opt)
{
	char cpu[128];

	printf("%s: KVM: %s; processor: %s\n", program, kvm_module_name(),
	       cpu_model_name(cpu, sizeof(cpu)));
	printf("%s: exits: %u rounds of %u batches of %u, each after a warm-up batch;"
	       " creations: %u each\n", program, opt->rounds, opt->batches, opt->per_batch,
	       opt->creations);
	printf("%-17s %-4s %9s %9s %9s %9s %9s %9s %6s\n", "figure", "by", "ns", "q1", "q3",
	       "cycles", "q1", "q3", "ratio");
}

/* One row: our nanoseconds and the guest's cycles, each a median and
 * its quartiles, and the ratio to the bare loop; "-" where the figure
 * has none. Every column is right-aligned: only the digits change. */
static void table_row(const struct figure *f, const struct summary *ours,
		      const struct summary *cycles, double ratio)
{
	char cyc[3][32] = { "-", "-", "-" }, rat[32] = "-";

	if (cycles->n) {
		snprintf(cyc[0], sizeof(cyc[0]), "%.0f", cycles->median);
		snprintf(cyc[1], sizeof(cyc[1]), "%.0f", cycles->q1);
		snprintf(cyc[2], sizeof(cyc[2]), "%.0f", cycles->q3);
	}
	if (ratio > 0)
		snprintf(rat, sizeof(rat), "%.2f", ratio);
	printf("%-17s %-4s %9.0f %9.0f %9.0f %9s %9s %9s %6s\n", f->name, f->handler,
	       ours->median, ours->q1, ours->q3, cyc[0], cyc[1], cyc[2], rat);
}

/* The CSV's row for a figure, with empty fields where it has none. */
static void csv_row(FILE *csv, const struct figure *f, const struct summary *ours,
		    const struct summary *bare, const struct summary *cycles, double ratio)
{
	fprintf(csv, "%s,%s,%zu,%.1f,%.1f,%.1f,", f->name, f->handler, ours->n, ours->median,
		ours->q1, ours->q3);
	if (cycles->n)
		fprintf(csv, "%.0f,%.0f,%.0f,", cycles->median, cycles->q1, cycles->q3);
	else
		fputs(",,,", csv);
	if (bare->n)
		fprintf(csv, "%.1f,%.3f\n", bare->median, ratio);
	else
		fputs(",\n", csv);
}

/* Open --csv's file and write its header line. "-" is standard output,
 * after the table: the CSV is kept in memory until then. */
static FILE *csv_open(const char *path, char **buf, size_t *size)
{
	FILE *csv;

	if (!path)
		return NULL;
	csv = strcmp(path, "-") ? fopen(path, "w") : open_memstream(buf, size);
	if (!csv)
		die(2, "cannot write %s: %s", path, strerror(errno));
	fputs("figure,by,samples,ns_median,ns_q1,ns_q3,cycles_median,cycles_q1,cycles_q3,"
	      "bare_ns_median,ratio\n", csv);
	return csv;
}

/* Close --csv's file; for "-", print the CSV that was kept. */
static void csv_close(FILE *csv, const char *path, char **buf)
{
	if (!csv)
		return;
	if (fclose(csv) != 0)
		die(2, "cannot write %s: %s", path, strerror(errno));
	if (*buf)
		fputs(*buf, stdout);
	free(*buf);
}

/* Measure one figure, with its progress line, and print its row. */
static void figure_run(struct vm *vm, const struct figure *f, const struct options *opt,
		       unsigned index, unsigned total, FILE *csv)
{
	struct result r = { 0 };
	struct summary ours, bare, cycles;
	double ratio = 0;

	fprintf(stderr, "%s: [%u/%u] %s: %s\n", program, index, total, f->name, f->what);
	f->measure(vm, f, opt, &r);
	ours = samples_summary(&r.ours);
	bare = samples_summary(&r.bare);
	cycles = samples_summary(&r.cycles);
	if (bare.n && bare.median > 0)
		ratio = ours.median / bare.median;
	table_row(f, &ours, &cycles, ratio);
	if (csv)
		csv_row(csv, f, &ours, &bare, &cycles, ratio);
	free(r.ours.v);
	free(r.bare.v);
	free(r.cycles.v);
}

/* --only's figure, checked: its index, or -1 for every figure. */
static int figure_only(const struct options *opt)
{
	if (!opt->only)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(figures); i++)
		if (!strcmp(figures[i].name, opt->only))
			return (int)i;
	die(2, "--only: no figure is called \"%s\" (see the table's first column)", opt->only);
}

int main(int argc, char **argv)
{
	struct options opt = parse_options(argc, argv);
	struct vm vm = { 0 };
	int only = figure_only(&opt);
	FILE *csv;
	char *csv_buf = NULL;
	size_t csv_size = 0, size = guest_bench64_end - guest_bench64;

	setvbuf(stdout, NULL, _IOLBF, 0);
	command_line = argv;    /* die_no_kvm repeats it for the lab */
	vm.kvm_fd = kvm_open();
	vm_create(&vm);
	kvm_check_bench_caps(&vm);
	vm_create_irqchip(&vm);
	vcpu_create(&vm);
	guest_build_gdt(&vm);
	guest_build_page_tables(&vm);
	memcpy(vm.mem + GUEST_LOAD_ADDR, guest_bench64, size);
	vcpu_setup_long_mode(&vm);
	vm.trace = opt.trace;
	csv = csv_open(opt.csv_path, &csv_buf, &csv_size);

	table_head(&opt);
	for (size_t i = 0; i < ARRAY_SIZE(figures); i++)
		if (only < 0 || (size_t)only == i)
			figure_run(&vm, &figures[i], &opt, only < 0 ? i + 1 : 1,
				   only < 0 ? ARRAY_SIZE(figures) : 1, csv);
	printf("%s: %lu exits reached us; the device saw %llu port writes, %llu register"
	       " writes, %llu doorbells\n", program, vm.exits, (unsigned long long)vm.port_writes,
	       (unsigned long long)vm.mmio_writes, (unsigned long long)vm.doorbells);
	csv_close(csv, opt.csv_path, &csv_buf);
	return 0;
}
