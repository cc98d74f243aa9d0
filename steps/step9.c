/*
 * step9.c: interrupts. Step 8's machine (long mode, a 16550A UART at
 * COM1, the sysregs at 0xd0000000) gets the PC's interrupt controllers
 * and its timer, emulated inside the kernel by KVM (KVM_CREATE_IRQCHIP:
 * the 8259A PICs, the I/O APIC, a local APIC; KVM_CREATE_PIT2: the
 * 8254 PIT). The guest sets up an IDT, programs the PIC and the PIT,
 * counts the timer's ticks, and sleeps in hlt between interrupts. The
 * host's standard input feeds the UART's receive FIFO from a second
 * thread, which raises the UART's line, IRQ 4, with KVM_IRQ_LINE: what
 * you type interrupts the guest, and it echoes it in capitals.
 *
 * KVM, step by step, chapter 9. Build and run:
 *
 *     make step9 && ./step9            the guest counts ticks, then echoes what you type
 *     printf 'abc\n' | ./step9         ... what the pipe brings
 *     ./step9 --trace                  ... and every VM exit and interrupt line we raise
 *     ./step9 --guest FILE             a 64-bit flat binary or ELF file of yours
 *
 * In a terminal, standard input is in raw mode: each key goes to the
 * guest as it is typed, and Ctrl-A x quits, as in QEMU.
 *
 * Exit status: 0 the guest powered off with exit code 0 and the checks
 * passed (or a guest of yours halted for good or powered off with 0); 1
 * the guest ended any other way; 2 usage or host setup error; 77 this
 * host's KVM cannot run the step (no in-kernel irqchip or PIT).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
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
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The number of elements of an array (not of a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* listing: memory-map */
/*
 * Guest-physical memory: 2 MiB of RAM at address 0, as in step 7, and
 * far above it, where there is no RAM, the sysregs' page. The page
 * tables map RAM at virtual 0 and at the high half (step 7), and the
 * sysregs at their physical address, uncached.
 *
 *   0x000000 +--------------------------+
 *            | (unused)                 |
 *   0x000400 | result: the guest's 42   |
 *   0x000408 | its timer ticks; the     |
 *            | clock at the 5th, last;  |
 *            | the ticks out of time    |
 *   0x000500 | GDT: 3 descriptors       | <- GDTR
 *            |                          |
 *   0x001000 +--------------------------+ <- RIP
 *            | guest code and data      |
 *            |            ...           |
 *   0x100000 +--------------------------+ <- CR3
 *            | PML4                     |
 *   0x101000 | PDPT for the low half    |
 *   0x102000 | PDPT for the high half   |
 *   0x103000 | PD: RAM, one 2 MiB page  |
 *   0x104000 | PD: the devices' 2 MiB   |
 *   0x105000 +--------------------------+
 *            | stack, growing down      |
 *   0x200000 +--------------------------+ <- RSP
 *                        ...  no RAM: an access is a VM exit
 * 0xd0000000 +--------------------------+
 *            | sysregs: 4 KiB of device |
 * 0xd0001000 +--------------------------+
 *            | nothing (still mapped)   |
 * 0xd0200000 +--------------------------+
 */
#define GUEST_MEM_SIZE     0x200000
#define GUEST_RESULT_ADDR  0x400
#define GUEST_TICKS_ADDR   0x408     /* 64 bits: the ticks the guest counted */
#define GUEST_MARK_TICK    0x410     /* 64 bits: the sysregs' clock at tick 5, */
#define GUEST_LAST_TICK    0x418     /* 64 bits: and at the last; */
#define GUEST_ODD_TICKS    0x420     /* 64 bits: ticks out of time, from the 5th */
#define GUEST_GDT_ADDR     0x500
#define GUEST_LOAD_ADDR    0x1000
#define GUEST_PML4_ADDR    0x100000
#define GUEST_PDPT_LOW     0x101000
#define GUEST_PDPT_HIGH    0x102000
#define GUEST_PD_ADDR      0x103000
#define GUEST_PD_DEVICES   0x104000
#define GUEST_TABLES       5         /* PML4, two PDPTs, two PDs: 0x100000-0x104fff */
#define GUEST_STACK_TOP    0x200000
#define GUEST_EXPECTED     42

/* The high half: the same 2 MiB, mapped again from here up. */
#define GUEST_HIGH_HALF    0xffffffff80000000ULL

/* The devices: COM1's eight ports, and the sysregs' page, clear of the
 * addresses the in-kernel I/O APIC (0xfec00000) and local APIC
 * (0xfee00000) answer. The UART's interrupt line: IRQ 4, as on a PC. */
#define COM1_BASE          0x3f8
#define COM1_PORTS         8
#define SYSREGS_BASE       0xd0000000ULL
#define SYSREGS_SIZE       0x1000
#define COM1_IRQ           4
/* end listing: memory-map */

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
#define PTE_A              (1ull << 5) /* accessed: set by the CPU */
#define PTE_D              (1ull << 6) /* dirty: set by the CPU */
#define PTE_PWT            (1ull << 3) /* write-through: no write-back cache */
#define PTE_PCD            (1ull << 4) /* cache disable: every access goes out */
#define PTE_PS             (1ull << 7) /* page size: in a PD, a 2 MiB page */

#define DEFAULT_DEVICE     "/dev/kvm"
#define DEFAULT_TIMEOUT    10.0   /* seconds; --timeout 0 turns it off */
#define TIMER_HZ           100    /* the guest's PIT channel 0 */
#define TIMER_TOLERANCE    0.10   /* the rate the host accepts: 100 Hz +-10% */
#define TIMER_MARK         5      /* the tick the guest notes the clock at */
#define KICK_MS            100    /* the input thread wakes the vCPU this often */

/* The embedded guest: guest/interrupts.c, guest/echo.c and
 * guest/vectors.S, compiled -m64 (see guest/embed.S). */
extern const unsigned char guest_interrupts64[], guest_interrupts64_end[];

static const char *program = "step9";

/* What the command line asked for. */
struct options {
	const char *guest_path; /* --guest FILE, or NULL: the embedded guest */
	int trace;              /* --trace: print the mode and every VM exit */
	double timeout;         /* --timeout SECONDS: 0 means no watchdog */
	int timeout_set;        /* --timeout was given (else a terminal has none) */
};

/* The UART's state: its registers as the guest last set them, and its
 * receive FIFO (see "The UART" below for every bit). */
#define UART_FIFO_SIZE     16
struct uart {
	uint8_t ier, lcr, mcr, scr;     /* as the guest wrote them */
	uint8_t dll, dlm;               /* the divisor latch: the baud rate */
	uint8_t fcr;                    /* FIFO enable and trigger level */
	uint8_t lsr_errors;             /* LSR's overrun bit, until LSR is read */
	uint8_t msr;                    /* modem lines (7:4) and their changes (3:0) */
	int thre_pending;               /* a "THR empty" interrupt is pending */
	uint8_t rx[UART_FIFO_SIZE];     /* received bytes, oldest at rx_first */
	unsigned rx_first, rx_count;
	uint8_t rbr;                    /* the last byte the guest read */
	int input_fd;                   /* where received bytes come from: stdin */
	int input_closed;               /* it ended: the carrier (DCD) is dropped */
};

/* The sysregs' state: the scratch register, and whether the guest has
 * asked to power off, with which exit code. */
struct sysregs {
	uint64_t scratch;
	int powered_off;
	uint64_t exit_code;
};

/* The VM and its one vCPU: file descriptors, the memory we share, and
 * the state of the devices we emulate. */
struct vm {
	int kvm_fd;             /* /dev/kvm: system-wide ioctls */
	int vm_fd;              /* KVM_CREATE_VM: this virtual machine */
	int vcpu_fd;            /* KVM_CREATE_VCPU: its processor */
	uint8_t *mem;           /* guest RAM, as the host sees it */
	struct kvm_run *run;    /* the vCPU's shared page: why KVM_RUN returned */
	size_t run_size;
	struct kvm_regs seen_regs;   /* where the guest was last seen: at */
	struct kvm_sregs seen_sregs; /* its entry, or at the last exit handled */
	int seen_at_exit;            /* 1: at an exit; 0: at its entry */
	struct timespec seen_time;   /* when (CLOCK_MONOTONIC) */
	unsigned long exits;    /* how many times KVM_RUN has returned */
	struct uart uart;       /* COM1 */
	struct sysregs sysregs; /* at SYSREGS_BASE */
	uint64_t host_tables[GUEST_TABLES][512]; /* the page tables as the host built them */
	/* Two threads share what follows (see "Two threads"). */
	pthread_mutex_t uart_lock;   /* held by the thread that touches uart */
	pthread_cond_t uart_room;    /* the guest took a byte: room in the FIFO */
	int uart_line;               /* IRQ 4's level, as we last set it */
	int trace;                   /* --trace: the lines we raise, too */
	int raw_terminal;            /* stdin is a terminal in raw mode */
	int quit;                    /* Ctrl-A x was typed */
	int stop_input;              /* main asks the input thread to end */
	pthread_t vcpu_thread;       /* the thread in KVM_RUN: main's */
	pthread_t input_thread;      /* reads stdin, kicks the vCPU */
	int input_started;
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
		"usage: %s [--trace] [--guest FILE] [--timeout SECONDS] [--help]\n"
		"\n"
		"Runs a 64-bit long-mode guest with the PC's interrupt controllers and\n"
		"timer in the kernel (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2), a 16550A UART\n"
		"at ports 0x%x to 0x%x on IRQ %d, whose output is this program's standard\n"
		"output and whose input is its standard input, and the sysregs at\n"
		"guest-physical 0x%llx. The guest sets up its IDT, the PIC and the PIT\n"
		"(%d Hz), checks the timer against the host's clock, echoes in capitals\n"
		"what it receives (each byte an interrupt) until the input ends or\n"
		"nothing comes for 5 s, stores %d at guest address 0x%x and its ticks at\n"
		"0x%x, and powers off with exit code 0; the host checks the ticks' rate.\n"
		"In a terminal, the keys go to the guest as typed; Ctrl-A x quits.\n"
		"\n"
		"  --trace            print the mode, the translations, every VM exit with\n"
		"                     the device and register it reached, each change of\n"
		"                     the UART's interrupt line, and where the vCPU was at\n"
		"                     each kick (on stderr)\n"
		"  --guest FILE       run a flat 64-bit binary instead, loaded at 0x%x\n"
		"                     (CS = 0x%02x, DS = SS = 0x%02x, RSP = 0x%x, no IDT), or a\n"
		"                     64-bit ELF file (ELFCLASS64, EM_X86_64): its segments at\n"
		"                     their physical addresses, clear of the GDT, the page\n"
		"                     tables and the stack's last page, started at its entry\n"
		"                     (a mapped address: low 2 MiB or high half); it ends by\n"
		"                     powering off, or with hlt while interrupts are off\n"
		"  --timeout SECONDS  stop a guest still running after this long\n"
		"                     (default %g, 0 = never; in a terminal, never)\n"
		"  --help             this text\n"
		"\n"
		"The device is %s, or $KVM_DEVICE if set.\n"
		"Exit status: 0 the guest powered off with exit code 0 (or a guest of\n"
		"yours halted) and the checks passed, 1 the guest failed (or Ctrl-A x),\n"
		"2 usage or host setup error, 77 this host's KVM cannot run this step.\n",
		program, COM1_BASE, COM1_BASE + COM1_PORTS - 1, COM1_IRQ, SYSREGS_BASE, TIMER_HZ,
		GUEST_EXPECTED, GUEST_RESULT_ADDR, GUEST_TICKS_ADDR, GUEST_LOAD_ADDR, GDT_CODE,
		GDT_DATA, GUEST_STACK_TOP, DEFAULT_TIMEOUT, DEFAULT_DEVICE);
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
			opt.timeout_set |= !strcmp(arg, "--timeout");
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
/* The VM, its memory and its vCPU (steps 2 and 3)                     */

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
/* Segments: a 64-bit code segment, the GDT and the descriptor cache  */

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

/* ------------------------------------------------------------------ */
/* Paging: four levels of tables                                       */

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
 * step 7, and the devices' 2 MiB at their own physical address. A 48-bit
 * virtual address is cut into four indexes and an offset:
 *
 *  47       39 38       30 29       21 20                       0
 * +-----------+-----------+-----------+--------------------------+
 * |PML4 index |PDPT index | PD index  |  offset in the 2 MiB page|
 * +-----------+-----------+-----------+--------------------------+
 *
 * 0x0000000000001000: PML4[0]   -> PDPT_LOW[0]    -> PD[0]         -> RAM
 * 0xffffffff80001000: PML4[511] -> PDPT_HIGH[510] -> PD[0]         -> RAM
 * 0x00000000d0000000: PML4[0]   -> PDPT_LOW[3]    -> PD_DEVICES[128]
 *                                                      -> 0xd0000000
 *
 * The RAM paths end in the same PD entry: one 2 MiB page at physical 0
 * (PS=1), so there is no fourth level, no page table. Bits 63:48 of a
 * virtual address must copy bit 47 ("canonical"), hence the ffff.
 * The devices' entry has PCD and PWT set: uncached. A device register
 * must see every read and write the guest makes, in order; a cache
 * would keep a clock's old value and hold writes back. (Here no cache
 * stands between the guest and our handler anyway: the page is not
 * memory, every access exits. On real hardware it would.)
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
	table_set(vm, GUEST_PD_DEVICES, (SYSREGS_BASE >> 21) & 511,
		  pte(SYSREGS_BASE, PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT));
	table_set(vm, GUEST_PDPT_LOW, (SYSREGS_BASE >> 30) & 511,
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
/* The guest file: a flat binary or an ELF                             */

/* A range of guest-physical memory that the host fills itself: a guest
 * file's ELF segments must stay out of every one of them. */
struct guest_range {
	uint64_t start, end;    /* [start, end): end is the first byte after */
	const char *what;       /* what the host keeps there; NULL ends a table */
};

/* The ELF files this step runs (see elf_load), and how many program
 * headers it reads at most. */
#define ELF_CLASS          ELFCLASS64
#define ELF_MACHINE        EM_X86_64
#define ELF_WANTED         "64-bit ELF files (ELFCLASS64) for x86-64 (EM_X86_64)"
#define ELF_MAX_PHDRS      16

/* What the host builds in guest memory, which an ELF segment must stay
 * out of: the GDT, the five page tables and the stack's last page. The
 * entry { 0, 0, NULL } ends the table. */
static const struct guest_range host_ranges[] = {
	{ GUEST_GDT_ADDR, GUEST_GDT_ADDR + GDT_ENTRIES * 8, "the GDT" },
	{ GUEST_PML4_ADDR, GUEST_PD_DEVICES + 0x1000, "the page tables" },
	{ GUEST_STACK_TOP - 0x1000, GUEST_STACK_TOP, "the stack's last page" },
	{ 0, 0, NULL },
};

/* Open the guest file and check that it is a regular, non-empty file.
 * Returns the descriptor; *st gets the file's size among the rest. */
static int guest_file_open(const char *path, struct stat *st)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (we refuse
	 * anything but a regular file right after). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		die(2, "cannot open guest file %s: %s", path, strerror(errno));
	if (fstat(fd, st) < 0)
		die(2, "cannot stat guest file %s: %s", path, strerror(errno));
	if (S_ISDIR(st->st_mode))
		die(2, "guest file %s is a directory, not a flat binary or an ELF file", path);
	if (!S_ISREG(st->st_mode))
		die(2, "guest file %s is not a regular file", path);
	if (st->st_size == 0)
		die(2, "guest file %s is empty: there is nothing to run", path);
	return fd;
}

/* Read exactly size bytes of the guest file, from offset on. The callers
 * checked the range against the file's size, so less is a host error. */
static void file_read_at(int fd, const char *path, void *buf, size_t size, uint64_t offset)
{
	ssize_t got = pread(fd, buf, size, (off_t)offset);

	if (got < 0 || (size_t)got != size)
		die(2, "cannot read guest file %s: %s", path,
		    got < 0 ? strerror(errno) : "short read");
}

/* Whether the guest file is an ELF file: it starts with the four bytes
 * 7f 'E' 'L' 'F' (ELFMAG). A flat binary is machine code from byte 0. */
static int file_is_elf(int fd, const char *path, uint64_t size)
{
	unsigned char magic[SELFMAG];

	if (size < SELFMAG)
		return 0;
	file_read_at(fd, path, magic, SELFMAG, 0);
	return !memcmp(magic, ELFMAG, SELFMAG);
}

/* Load a flat binary at GUEST_LOAD_ADDR, where the vCPU starts. A file of
 * zeros is refused by name: 00 00 is an add, which runs on to the timeout. */
static size_t flat_load(struct vm *vm, int fd, const char *path, uint64_t size,
			size_t room)
{
	uint8_t *code = vm->mem + GUEST_LOAD_ADDR;

	if (size > room)
		die(2, "guest file %s is too large: %ju bytes, and the guest has room\n"
		    "  for %zu bytes at 0x%x", path, (uintmax_t)size, room, GUEST_LOAD_ADDR);
	file_read_at(fd, path, code, size, 0);
	if (code[0] == 0 && !memcmp(code, code + 1, size - 1))
		die(2, "guest file %s is all zeros (%ju bytes): there is no code in it.\n"
		    "  (Each 00 00 is an add to memory: the guest would run them until the\n"
		    "  timeout.) Was the file written out?", path, (uintmax_t)size);
	return size;
}

/* Read the ELF header of either class into an Elf64_Ehdr (the 32-bit one
 * has the same fields, narrower), and check what any loader needs:
 * little-endian, an executable, program headers that lie in the file. */
static void elf_read_header(int fd, const char *path, uint64_t size, Elf64_Ehdr *eh)
{
	const unsigned char *id = eh->e_ident;
	Elf32_Ehdr e32;
	size_t phent;

	memset(eh, 0, sizeof(*eh));
	if (size >= sizeof(e32))
		file_read_at(fd, path, eh->e_ident, EI_NIDENT, 0);
	if (size < sizeof(e32) || (id[EI_CLASS] == ELFCLASS64 && size < sizeof(*eh)))
		die(2, "guest file %s is a truncated ELF file: %ju bytes, less than its header",
		    path, (uintmax_t)size);
	if (id[EI_CLASS] == ELFCLASS64) {
		file_read_at(fd, path, eh, sizeof(*eh), 0);
		phent = sizeof(Elf64_Phdr);
	} else if (id[EI_CLASS] == ELFCLASS32) {
		file_read_at(fd, path, &e32, sizeof(e32), 0);
		eh->e_type = e32.e_type;
		eh->e_machine = e32.e_machine;
		eh->e_entry = e32.e_entry;
		eh->e_phoff = e32.e_phoff;
		eh->e_phentsize = e32.e_phentsize;
		eh->e_phnum = e32.e_phnum;
		phent = sizeof(Elf32_Phdr);
	} else {
		die(2, "guest file %s is a malformed ELF file: class %u is neither\n"
		    "  ELFCLASS32 (1) nor ELFCLASS64 (2)", path, id[EI_CLASS]);
	}
	if (id[EI_DATA] != ELFDATA2LSB)
		die(2, "guest file %s is not a little-endian ELF file (EI_DATA %u): not x86 code",
		    path, id[EI_DATA]);
	if (eh->e_type != ET_EXEC)
		die(2, "guest file %s is an ELF file of type %u, not an executable (ET_EXEC):\n"
		    "  link it with ld and a linker script, as the Makefile links guest/",
		    path, eh->e_type);
	if (eh->e_phentsize != phent || eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		die(2, "guest file %s is a malformed ELF file: %u program headers of %u bytes\n"
		    "  (this step reads 1 to %d, of %zu bytes each)", path, eh->e_phnum,
		    eh->e_phentsize, ELF_MAX_PHDRS, phent);
	if (eh->e_phoff > size || (uint64_t)eh->e_phnum * phent > size - eh->e_phoff)
		die(2, "guest file %s is a truncated ELF file: its program headers\n"
		    "  (at offset 0x%jx) run past its end (%ju bytes)", path,
		    (uintmax_t)eh->e_phoff, (uintmax_t)size);
}

/* Read program header number index into an Elf64_Phdr, widening the
 * 32-bit kind. elf_read_header checked that the table is in the file. */
static void elf_read_phdr(int fd, const char *path, const Elf64_Ehdr *eh, unsigned index,
			  Elf64_Phdr *ph)
{
	uint64_t offset = eh->e_phoff + (uint64_t)index * eh->e_phentsize;
	Elf32_Phdr p32;

	if (eh->e_ident[EI_CLASS] == ELFCLASS64) {
		file_read_at(fd, path, ph, sizeof(*ph), offset);
		return;
	}
	file_read_at(fd, path, &p32, sizeof(p32), offset);
	ph->p_type = p32.p_type;
	ph->p_flags = p32.p_flags;
	ph->p_offset = p32.p_offset;
	ph->p_vaddr = p32.p_vaddr;
	ph->p_paddr = p32.p_paddr;
	ph->p_filesz = p32.p_filesz;
	ph->p_memsz = p32.p_memsz;
	ph->p_align = p32.p_align;
}

/* What kind of ELF file this is, in words: its class (32- or 64-bit) and
 * its machine, for the message that refuses the wrong one. */
static const char *elf_kind(const Elf64_Ehdr *eh)
{
	static char text[96];
	unsigned class = eh->e_ident[EI_CLASS];

	snprintf(text, sizeof(text), "a %s ELF file (%s) for %s",
		 class == ELFCLASS64 ? "64-bit" : "32-bit",
		 class == ELFCLASS64 ? "ELFCLASS64" : "ELFCLASS32",
		 eh->e_machine == EM_386 ? "i386 (EM_386)" :
		 eh->e_machine == EM_X86_64 ? "x86-64 (EM_X86_64)" : "another machine");
	return text;
}

/* A PT_LOAD segment fills [p_paddr, p_paddr + p_memsz) of guest-physical
 * memory: its bytes must be in the file, and it must fit in RAM and stay
 * out of host_ranges, which the host has already filled. */
static void elf_check_segment(const char *path, unsigned index, const Elf64_Phdr *ph,
			      uint64_t size)
{
	uint64_t start = ph->p_paddr, end = ph->p_paddr + ph->p_memsz;

	if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
		die(2, "guest file %s is a truncated ELF file: segment %u has %ju bytes at\n"
		    "  offset 0x%jx, past the file's end (%ju bytes)", path, index,
		    (uintmax_t)ph->p_filesz, (uintmax_t)ph->p_offset, (uintmax_t)size);
	if (ph->p_filesz > ph->p_memsz)
		die(2, "guest file %s is a malformed ELF file: segment %u has more bytes in\n"
		    "  the file (p_filesz 0x%jx) than in memory (p_memsz 0x%jx)", path, index,
		    (uintmax_t)ph->p_filesz, (uintmax_t)ph->p_memsz);
	if (start >= GUEST_MEM_SIZE || ph->p_memsz > GUEST_MEM_SIZE - start)
		die(2, "guest file %s: segment %u (physical 0x%jx, 0x%jx bytes) is outside\n"
		    "  the guest's RAM, 0x0 to 0x%x", path, index, (uintmax_t)start,
		    (uintmax_t)ph->p_memsz, GUEST_MEM_SIZE);
	for (const struct guest_range *r = host_ranges; r->what; r++)
		if (start < r->end && r->start < end)
			die(2, "guest file %s: segment %u (physical 0x%jx to 0x%jx) overlaps\n"
			    "  %s, which the host reserves at 0x%jx to 0x%jx", path, index,
			    (uintmax_t)start, (uintmax_t)end, r->what, (uintmax_t)r->start,
			    (uintmax_t)r->end);
}

/*
 * Load an ELF guest: each PT_LOAD segment at its physical address
 * (p_paddr), p_filesz bytes from the file, then zeros up to p_memsz (the
 * guest's .bss). Sets *entry to e_entry; returns the bytes read.
 *
 *   the file                                   guest-physical memory
 *   +------------------------+
 *   | ELF header             |  e_entry: where the vCPU starts
 *   |                        |  e_phoff, e_phnum: the table below
 *   +------------------------+
 *   | program header 0       |  PT_LOAD: p_offset, p_filesz -> p_paddr
 *   | program header 1 ...   |
 *   +------------------------+             p_paddr +------------------+
 *   | segment 0's bytes,     | ------------------> | p_filesz bytes   |
 *   | p_filesz of them       |                     +- - - - - - - - - +
 *   +------------------------+                     | zeros to p_memsz |
 *                                                  +------------------+
 */
static size_t elf_load(struct vm *vm, int fd, const char *path, uint64_t size,
		       uint64_t *entry)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned segments = 0;
	size_t bytes = 0;

	elf_read_header(fd, path, size, &eh);
	if (eh.e_ident[EI_CLASS] != ELF_CLASS || eh.e_machine != ELF_MACHINE)
		die(2, "guest file %s is %s;\n  %s runs %s", path, elf_kind(&eh), program,
		    ELF_WANTED);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		elf_read_phdr(fd, path, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		elf_check_segment(path, i, &ph, size);
		file_read_at(fd, path, vm->mem + ph.p_paddr, ph.p_filesz, ph.p_offset);
		memset(vm->mem + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		bytes += ph.p_filesz;
		segments++;
	}
	if (segments == 0)
		die(2, "guest file %s is an ELF file with no PT_LOAD segment: nothing to run", path);
	*entry = eh.e_entry;
	return bytes;
}

/* Start the vCPU at entry, where the guest file says its code begins
 * (the load address, unless an ELF file's e_entry says otherwise). */
static void vcpu_set_entry(struct vm *vm, uint64_t entry)
{
	struct kvm_regs regs;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
	regs.rip = entry;
	kvm_ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
}

/* Where an ELF guest may start: at a virtual address the page tables
 * map: in the low 2 MiB (identity), or, with high_half, in the same
 * 2 MiB from GUEST_HIGH_HALF on. */
static void elf_check_entry(const char *path, uint64_t entry, int high_half)
{
	if (entry < GUEST_MEM_SIZE)
		return;
	if (high_half && entry >= GUEST_HIGH_HALF && entry - GUEST_HIGH_HALF < GUEST_MEM_SIZE)
		return;
	die(2, "guest file %s: its entry point 0x%jx is not mapped: the page tables\n"
	    "  map 0x0 to 0x%x%s", path, (uintmax_t)entry, GUEST_MEM_SIZE,
	    high_half ? ", and the same 2 MiB from 0xffffffff80000000" : "");
}

/* Copy the guest into memory: the embedded one at GUEST_LOAD_ADDR, or the
 * file named by --guest, a flat binary or an ELF file. Sets *entry to
 * where the vCPU starts; returns the guest's size in bytes. */
static size_t guest_load(struct vm *vm, const struct options *opt, uint64_t *entry)
{
	const size_t room = GUEST_PML4_ADDR - GUEST_LOAD_ADDR;
	const char *path = opt->guest_path;
	struct stat st;
	size_t size;
	int fd;

	*entry = GUEST_LOAD_ADDR;
	if (!path) {
		size = guest_interrupts64_end - guest_interrupts64;
		memcpy(vm->mem + GUEST_LOAD_ADDR, guest_interrupts64, size);
		return size;
	}
	fd = guest_file_open(path, &st);
	if (file_is_elf(fd, path, st.st_size)) {
		size = elf_load(vm, fd, path, st.st_size, entry);
		elf_check_entry(path, *entry, 1);
		printf("%s: %s: an ELF file, %zu bytes loaded, entry 0x%jx\n", program,
		       path, size, (uintmax_t)*entry);
	} else {
		size = flat_load(vm, fd, path, st.st_size, room);
	}
	close(fd);
	return size;
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

/* Read up to n bytes of the guest's code from a linear address into buf.
 * Each byte's address goes through KVM_TRANSLATE (which knows the mode
 * and walks the page tables, if any) and is checked against our RAM
 * before we read it: the guest controls where its code is. Returns the
 * number of bytes read; *stop says why it stopped short, or is NULL. */
static int guest_read_code(struct vm *vm, uint64_t linear, uint8_t *buf, int n,
			   const char **stop)
{
	struct kvm_translation tr;
	int i;

	*stop = NULL;
	for (i = 0; i < n; i++) {
		tr = (struct kvm_translation){ .linear_address = linear + i };
		if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid) {
			*stop = "not mapped";
			break;
		}
		if (tr.physical_address >= GUEST_MEM_SIZE) {
			*stop = "no RAM there";
			break;
		}
		buf[i] = vm->mem[tr.physical_address];
	}
	return i;
}

/* Print the code bytes read from linear, and name the instructions a
 * KVM without hardware virtualization (kvm_pvm) cannot emulate at
 * privilege level 0: int3 (cc), int n (cd) and 32-bit iret (cf). */
static void print_code(FILE *out, uint64_t linear, const uint8_t *code, int n,
		       const char *stop)
{
	fprintf(out, "  code at 0x%llx:", (unsigned long long)linear);
	for (int i = 0; i < n; i++)
		fprintf(out, " %02x", code[i]);
	if (stop)
		fprintf(out, " (%s%s)", n ? "then " : "", stop);
	fputc('\n', out);
	if (n && (code[0] == 0xcc || code[0] == 0xcd || code[0] == 0xcf))
		fprintf(out, "  (%s in kernel mode: some KVMs without hardware virtualization,\n"
			"  such as kvm_pvm, cannot emulate it; a hardware KVM can)\n",
			code[0] == 0xcc ? "int3" : code[0] == 0xcd ? "int n" : "iret");
}

/* The bytes at RIP, so a learner can see which instruction the guest
 * was at. In 64-bit mode CS has no base: RIP is the virtual address,
 * which guest_read_code() translates through the guest's page tables. */
static void guest_show_code(struct vm *vm, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	const char *stop;
	uint8_t code[8];
	int n;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return;
	if (!(s.efer & EFER_LMA)) {
		fprintf(out, "  (the vCPU is no longer in long mode: KVM reset it, RIP tells nothing)\n");
		return;
	}
	n = guest_read_code(vm, r.rip, code, sizeof(code), &stop);
	print_code(out, r.rip, code, n, stop);
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

/* --trace: ask KVM how the guest's page tables translate a virtual
 * address, as the guest's MMU would (KVM_TRANSLATE). This is the host's
 * view of the mapping, before the guest runs a single instruction.
 * (On x86 KVM fills in only valid and physical_address: its writeable
 * field is always 1, whatever the page table entry says.) */
static void trace_translate(struct vm *vm, uint64_t virtual)
{
	struct kvm_translation tr = { .linear_address = virtual };

	kvm_ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr, "KVM_TRANSLATE", "See dmesg.");
	if (tr.valid)
		fprintf(stderr, "[trace] KVM_TRANSLATE virtual 0x%llx -> physical 0x%llx\n",
			(unsigned long long)virtual, tr.physical_address);
	else
		fprintf(stderr, "[trace] KVM_TRANSLATE virtual 0x%llx -> not mapped\n",
			(unsigned long long)virtual);
}
/* ------------------------------------------------------------------ */
/* The UART: a 16550A at COM1                                          */

/*
 * The 16550A has eight registers at eight consecutive ports, COM1's
 * 0x3f8 to 0x3ff. Some ports hold two: one the guest reads and one it
 * writes (RBR/THR, IIR/FCR), or one chosen by LCR's DLAB bit (the
 * divisor latch, DLL/DLM, which sets the baud rate).
 *
 *  offset  read (DLAB=0)            write (DLAB=0)       DLAB=1
 *  0       RBR receive buffer       THR transmit holding DLL divisor low
 *  1       IER interrupt enable     IER                  DLM divisor high
 *  2       IIR interrupt identity   FCR FIFO control     (the same)
 *  3       LCR line control         LCR
 *  4       MCR modem control        MCR
 *  5       LSR line status          (read-only)
 *  6       MSR modem status         (read-only)
 *  7       SCR scratch              SCR
 */
#define UART_RBR           0   /* DLAB=0, read */
#define UART_THR           0   /* DLAB=0, write */
#define UART_DLL           0   /* DLAB=1 */
#define UART_IER           1   /* DLAB=0 */
#define UART_DLM           1   /* DLAB=1 */
#define UART_IIR           2   /* read */
#define UART_FCR           2   /* write */
#define UART_LCR           3
#define UART_MCR           4
#define UART_LSR           5
#define UART_MSR           6
#define UART_SCR           7

/*
 * IER, interrupt enable: which events may interrupt the CPU (step 9
 * wires the interrupt; here IIR only names the event). Bits 7:4 are 0.
 *
 *    7   6   5   4    3      2      1      0
 *  +---+---+---+---+------+------+------+------+
 *  | 0 | 0 | 0 | 0 | MSI  | RLSI | THRI | RDI  |
 *  +---+---+---+---+------+------+------+------+
 *   MSI modem status changed, RLSI line status (overrun...), THRI the
 *   transmit holding register is empty, RDI received data available.
 */
#define IER_RDI            0x01
#define IER_THRI           0x02
#define IER_RLSI           0x04
#define IER_MSI            0x08
#define IER_WRITABLE       0x0f

/*
 * IIR, interrupt identity: the most urgent pending event IER allows.
 *
 *    7   6    5   4     3   2   1      0
 *  +-------+-------+------------+----------+
 *  | FIFOs |  0 0  |  identity  | NO_INT   |
 *  +-------+-------+------------+----------+
 *   FIFOs: 11 when FCR enabled them (a 16550A; an 8250 reads 00).
 *   NO_INT 1: nothing pending. Else bits 3:1, most urgent first:
 *   011 line status, 010 received data, 110 receive timeout (data below
 *   the trigger level), 001 THR empty, 000 modem status.
 */
#define IIR_NO_INT         0x01
#define IIR_MSI            0x00
#define IIR_THRI           0x02
#define IIR_RDI            0x04
#define IIR_RLSI           0x06
#define IIR_RX_TIMEOUT     0x0c
#define IIR_FIFOS          0xc0

/*
 * FCR, FIFO control (write-only; bits 1 and 2 clear themselves).
 *
 *    7   6     5   4     3       2          1        0
 *  +-------+-------+--------+----------+----------+--------+
 *  |trigger|   -   |  DMA   | clear TX | clear RX | ENABLE |
 *  +-------+-------+--------+----------+----------+--------+
 *   trigger: received-data interrupt at 1, 4, 8 or 14 bytes (00 to 11).
 *   ENABLE 0: no FIFOs, one byte each way (the 16450's way); changing it
 *   empties both FIFOs. The other bits count only with ENABLE set.
 */
#define FCR_ENABLE         0x01
#define FCR_CLEAR_RX       0x02
#define FCR_CLEAR_TX       0x04
#define FCR_KEPT           0xc9   /* ENABLE, DMA and trigger: kept */

/*
 * LCR, line control: the frame of every byte, and DLAB.
 *
 *    7      6      5      4      3      2       1   0
 *  +------+------+------+------+------+------+---------+
 *  | DLAB |break |stick | even |parity| stop | length  |
 *  +------+------+------+------+------+------+---------+
 *   length: 5 + (0 to 3) data bits; stop: 1 or 2 stop bits. 0x03 is
 *   "8N1". DLAB 1: offsets 0 and 1 are the divisor latch, DLL and DLM
 *   (baud = 115200 / divisor). Our bytes cross no wire: the frame and
 *   the baud rate are kept and read back, and change nothing.
 */
#define LCR_DLAB           0x80

/*
 * MCR, modem control: the lines the UART drives, and loopback.
 *
 *    7   6   5     4      3      2      1      0
 *  +---+---+---+------+------+------+------+------+
 *  | 0 | 0 | 0 | LOOP | OUT2 | OUT1 | RTS  | DTR  |
 *  +---+---+---+------+------+------+------+------+
 *   LOOP: the transmitter feeds the receiver (bytes written to THR come
 *   back in RBR, and leave nothing on the line), and MSR's lines read
 *   MCR's: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2.
 */
#define MCR_DTR            0x01
#define MCR_RTS            0x02
#define MCR_OUT1           0x04
#define MCR_OUT2           0x08
#define MCR_LOOP           0x10
#define MCR_WRITABLE       0x1f

/*
 * LSR, line status.
 *
 *    7      6      5      4    3    2    1    0
 *  +------+------+------+----+----+----+----+----+
 *  |RXERR | TEMT | THRE | BI | FE | PE | OE | DR |
 *  +------+------+------+----+----+----+----+----+
 *   DR data ready: RBR has a byte. OE overrun: a byte came with no room
 *   for it, and was lost (cleared by reading LSR). PE, FE, BI, RXERR:
 *   parity, framing, break, an error in the FIFO: never on our wire.
 *   THRE: THR can take a byte. TEMT: and the transmitter is idle. Our
 *   bytes leave at once, so both are always 1.
 */
#define LSR_DR             0x01
#define LSR_OE             0x02
#define LSR_THRE           0x20
#define LSR_TEMT           0x40

/*
 * MSR, modem status: the lines from the other end, and which changed
 * since MSR was last read (reading clears bits 3:0).
 *
 *    7     6     5     4     3      2      1      0
 *  +-----+-----+-----+-----+------+------+------+------+
 *  | DCD | RI  | DSR | CTS | DDCD | TERI | DDSR | DCTS |
 *  +-----+-----+-----+-----+------+------+------+------+
 *   DCD carrier detect: the line is connected. We drop it when our
 *   standard input ends: that is how the guest learns no more bytes
 *   will come (a modem drops it when the other end hangs up). DSR and
 *   CTS: the other end is there and ready. TERI: RI went from 1 to 0.
 */
#define MSR_DCTS           0x01
#define MSR_DDSR           0x02
#define MSR_TERI           0x04
#define MSR_DDCD           0x08
#define MSR_CTS            0x10
#define MSR_DSR            0x20
#define MSR_RI             0x40
#define MSR_DCD            0x80

/* The modem lines MSR shows (bits 7:4). In loopback they are MCR's own
 * outputs, wired back; else the other end's: our standard input, there
 * and ready (DSR, CTS), connected until it ends (DCD). */
static uint8_t uart_modem_lines(const struct uart *u)
{
	uint8_t lines = 0;

	if (u->mcr & MCR_LOOP) {
		lines |= (u->mcr & MCR_RTS) ? MSR_CTS : 0;
		lines |= (u->mcr & MCR_DTR) ? MSR_DSR : 0;
		lines |= (u->mcr & MCR_OUT1) ? MSR_RI : 0;
		lines |= (u->mcr & MCR_OUT2) ? MSR_DCD : 0;
		return lines;
	}
	return MSR_CTS | MSR_DSR | (u->input_closed ? 0 : MSR_DCD);
}

/* Bring MSR up to date with the modem lines, noting in bits 3:0 which
 * changed: any change of CTS, DSR or DCD, and RI only as it falls. */
static void uart_update_msr(struct uart *u)
{
	uint8_t old = u->msr & 0xf0, now = uart_modem_lines(u);
	uint8_t changed = old ^ now;

	if (changed & MSR_CTS)
		u->msr |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr |= MSR_DDSR;
	if (changed & MSR_DCD)
		u->msr |= MSR_DDCD;
	if ((old & MSR_RI) && !(now & MSR_RI))
		u->msr |= MSR_TERI;
	u->msr = (u->msr & 0x0f) | now;
}

/* The UART as it is at power-on: everything 0, no FIFOs, the
 * transmitter empty, and the modem lines of the other end. Its input
 * is the file descriptor input_fd (our standard input). */
static void uart_reset(struct uart *u, int input_fd)
{
	memset(u, 0, sizeof(*u));
	u->input_fd = input_fd;
	u->msr = uart_modem_lines(u);
}

/* How many received bytes the UART holds: a 16-byte FIFO, or with the
 * FIFOs off, the one byte of RBR. */
static unsigned uart_rx_room(const struct uart *u)
{
	return (u->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

/* A byte arrives on the receiver: into the FIFO, or, when it is full,
 * lost, with LSR's overrun bit to say so (as the chip does). */
static void uart_receive(struct uart *u, uint8_t byte)
{
	if (u->rx_count == uart_rx_room(u)) {
		u->lsr_errors |= LSR_OE;
		return;
	}
	u->rx[(u->rx_first + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
}

/* Empty the receive FIFO (FCR's clear bit, or FIFOs turned on or off). */
static void uart_clear_rx(struct uart *u)
{
	u->rx_first = 0;
	u->rx_count = 0;
}

/* listing: uart-iir */
/* IIR: the most urgent event that IER enables, or NO_INT, and 11 in
 * bits 7:6 while the FIFOs are on. Bytes below the trigger level are a
 * "receive timeout": on the chip, after four characters' time without
 * a new one; here our bytes have all arrived, so at once. */
static uint8_t uart_iir(const struct uart *u)
{
	static const unsigned trigger[4] = { 1, 4, 8, 14 };
	uint8_t fifos = (u->fcr & FCR_ENABLE) ? IIR_FIFOS : 0;

	if ((u->ier & IER_RLSI) && (u->lsr_errors & LSR_OE))
		return fifos | IIR_RLSI;
	if ((u->ier & IER_RDI) && u->rx_count)
		return fifos | (fifos && u->rx_count < trigger[u->fcr >> 6] ?
				IIR_RX_TIMEOUT : IIR_RDI);
	if ((u->ier & IER_THRI) && u->thre_pending)
		return fifos | IIR_THRI;
	if ((u->ier & IER_MSI) && (u->msr & 0x0f))
		return fifos | IIR_MSI;
	return fifos | IIR_NO_INT;
}
/* end listing: uart-iir */

/* THR: the guest sends a byte. It leaves at once: to our standard
 * output, or in loopback to the UART's own receiver. THR is empty again
 * right away, which is an event ("THR empty") IIR reports. */
static void uart_transmit(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP)
		uart_receive(u, byte);
	else
		fputc(byte, stdout);
	u->thre_pending = 1;
}

/* FCR: turn the FIFOs on or off (either empties them), clear them, set
 * the trigger level. Without ENABLE the other bits are not taken. */
static void uart_write_fcr(struct uart *u, uint8_t value)
{
	uint8_t kept = (value & FCR_ENABLE) ? value & FCR_KEPT : 0;

	if ((kept ^ u->fcr) & FCR_ENABLE)
		uart_clear_rx(u);
	if (value & FCR_CLEAR_RX)
		uart_clear_rx(u);
	u->fcr = kept;
}

/* listing: uart-read */
/* The guest reads the register at offset (0 to 7). Some reads change
 * the UART: RBR takes a byte from the FIFO, IIR clears "THR empty" when
 * that is what it reports, LSR clears the overrun bit, MSR its change
 * bits. The input thread fills the FIFO: nothing to fetch here. */
static uint8_t uart_read_register(struct uart *u, unsigned offset)
{
	uint8_t value;

	switch (offset) {
	case UART_RBR:                          /* or DLL */
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			u->rbr = u->rx[u->rx_first];
			u->rx_first = (u->rx_first + 1) % UART_FIFO_SIZE;
			u->rx_count--;
		}
		return u->rbr;
	case UART_IER:                          /* or DLM */
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		value = uart_iir(u);
		if ((value & 0x0f) == IIR_THRI)
			u->thre_pending = 0;
		return value;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		value = (u->rx_count ? LSR_DR : 0) | u->lsr_errors | LSR_THRE | LSR_TEMT;
		u->lsr_errors = 0;
		return value;
	case UART_MSR:
		value = u->msr;
		u->msr &= 0xf0;
		return value;
	default:                                /* UART_SCR */
		return u->scr;
	}
}
/* end listing: uart-read */

/* The guest writes value to the register at offset (0 to 7). LSR and
 * MSR are read-only: the chip ignores writes to them, and so do we. */
static void uart_write_register(struct uart *u, unsigned offset, uint8_t value)
{
	switch (offset) {
	case UART_THR:                          /* or DLL */
		if (u->lcr & LCR_DLAB)
			u->dll = value;
		else
			uart_transmit(u, value);
		break;
	case UART_IER:                          /* or DLM */
		if (u->lcr & LCR_DLAB) {
			u->dlm = value;
			break;
		}
		/* Enabling "THR empty" while THR is empty raises it at once. */
		if (!(u->ier & IER_THRI) && (value & IER_THRI))
			u->thre_pending = 1;
		u->ier = value & IER_WRITABLE;
		break;
	case UART_FCR:
		uart_write_fcr(u, value);
		break;
	case UART_LCR:
		u->lcr = value;
		break;
	case UART_MCR:
		u->mcr = value & MCR_WRITABLE;
		uart_update_msr(u);
		break;
	case UART_SCR:
		u->scr = value;
		break;
	default:                                /* LSR, MSR: read-only */
		break;
	}
}

/* listing: uart-line */
/*
 * The UART's interrupt output, INTR, is a level: up while IIR names a
 * cause (IER allowing it), down as soon as none is left. On a PC it
 * reaches the PIC's line 4 through a gate that MCR's OUT2 opens, and
 * never in loopback. KVM's PIC holds the line's level as we last set
 * it: KVM_IRQ_LINE, a VM ioctl, tells it of each change. The PIC's ISA
 * lines are edge-triggered: it asks for an interrupt on 0 -> 1, once;
 * the line must fall before it can interrupt again. Called with the
 * UART's lock held, from either thread.
 */
static void uart_update_line(struct vm *vm)
{
	const struct uart *u = &vm->uart;
	uint8_t iir = uart_iir(u);
	int level = (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP) && !(iir & IIR_NO_INT);
	struct kvm_irq_level irq = { .irq = COM1_IRQ, .level = level };

	if (level == vm->uart_line)
		return;
	vm->uart_line = level;
	kvm_ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq, "KVM_IRQ_LINE",
		  "KVM's PIC refused the UART's line; see dmesg.");
	if (vm->trace)
		fprintf(stderr, "[trace] KVM_IRQ_LINE irq %d level %d  (uart IIR 0x%02x)\n",
			COM1_IRQ, level, iir);
}
/* end listing: uart-line */

/* listing: uart-access */
/* The device table's read and write for the UART. It is an 8-bit
 * device: a wider access (in ax or eax, out of 2 or 4 bytes) reaches
 * consecutive registers, one byte each, as the PC's ISA bus splits it.
 * The input thread touches the UART too: each access holds the lock,
 * and ends by bringing the interrupt line up to date, since a read of
 * RBR or IIR, or a write of IER or MCR, may have changed it. Then it
 * wakes the input thread, which may wait for room in the FIFO (a byte
 * taken) or for DTR (MCR written). */
static uint64_t uart_read(struct vm *vm, uint64_t offset, unsigned size)
{
	uint64_t value = 0;

	pthread_mutex_lock(&vm->uart_lock);
	for (unsigned i = 0; i < size; i++)
		value |= (uint64_t)uart_read_register(&vm->uart, offset + i) << (8 * i);
	uart_update_line(vm);
	pthread_cond_signal(&vm->uart_room);
	pthread_mutex_unlock(&vm->uart_lock);
	return value;
}

static void uart_write(struct vm *vm, uint64_t offset, unsigned size, uint64_t value)
{
	pthread_mutex_lock(&vm->uart_lock);
	for (unsigned i = 0; i < size; i++)
		uart_write_register(&vm->uart, offset + i, value >> (8 * i));
	uart_update_line(vm);
	pthread_cond_signal(&vm->uart_room);
	pthread_mutex_unlock(&vm->uart_lock);
}
/* end listing: uart-access */

/* The register at offset, by name, for --trace: which one depends on
 * DLAB and on the direction. */
static const char *uart_register_name(struct vm *vm, uint64_t offset, int is_write)
{
	static const char *const names[COM1_PORTS] = {
		"RBR", "IER", "IIR", "LCR", "MCR", "LSR", "MSR", "SCR",
	};
	int dlab = vm->uart.lcr & LCR_DLAB;

	if (offset == UART_THR)
		return dlab ? "DLL" : is_write ? "THR" : "RBR";
	if (offset == UART_IER && dlab)
		return "DLM";
	if (offset == UART_FCR && is_write)
		return "FCR";
	return offset < COM1_PORTS ? names[offset] : "?";
}

/* ------------------------------------------------------------------ */
/* The sysregs: a memory-mapped device                                 */

/*
 * Four 64-bit registers at the start of a 4 KiB page (SYSREGS_BASE),
 * each readable and writable with any size, 1, 2, 4 or 8 bytes, at any
 * of its bytes (little-endian, as x86 stores a number):
 *
 *  offset  name       access  what
 *  0x00    ID         read    8 ASCII bytes, "KVMSTEP8": the device is here
 *  0x08    CLOCK      read    the host's time (CLOCK_REALTIME), in
 *                             nanoseconds since 1970
 *  0x10    SCRATCH    r/w     keeps what is written, byte by byte
 *  0x18    POWER_OFF  write   ends the run: the value is the exit code
 *
 * How the sizes meet a register: SCRATCH, its 8 bytes from 0x10 on,
 * as the guest writes and reads it:
 *
 *    0x17  0x16  0x15  0x14  0x13  0x12  0x11  0x10
 *  +-----+-----+-----+-----+-----+-----+-----+-----+
 *  |  a 4-byte write at 0x14   | 2 at 0x12 |1 at |     |
 *  +-----+-----+-----+-----+-----+-----+-----+-----+
 *  |          an 8-byte read at 0x10: all eight          |
 *  +-----------------------------------------------------+
 *
 * Reads of the rest of the page return 0, writes there and to ID and
 * CLOCK are ignored, as a device's reserved registers are.
 */
#define SYSREGS_ID         0x00
#define SYSREGS_CLOCK      0x08
#define SYSREGS_SCRATCH    0x10
#define SYSREGS_POWER_OFF  0x18
#define SYSREGS_REGISTERS  4

/* The value of the 64-bit register at reg (a multiple of 8). */
static uint64_t sysregs_register(struct vm *vm, uint64_t reg)
{
	struct timespec now;
	uint64_t id;

	switch (reg) {
	case SYSREGS_ID:
		memcpy(&id, "KVMSTEP8", sizeof(id));
		return id;
	case SYSREGS_CLOCK:
		clock_gettime(CLOCK_REALTIME, &now);
		return (uint64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	case SYSREGS_SCRATCH:
		return vm->sysregs.scratch;
	default:
		return 0;
	}
}

/* The bytes of an access of size bytes, as a mask: 0xff for one. */
static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

/* A read of size bytes at offset: that many bytes of the register that
 * holds offset, from offset on (bytes past the register's end read 0). */
static uint64_t sysregs_read(struct vm *vm, uint64_t offset, unsigned size)
{
	unsigned shift = (offset & 7) * 8;

	return (sysregs_register(vm, offset & ~7ULL) >> shift) & size_mask(size);
}

/* A write of size bytes at offset: SCRATCH takes the bytes written and
 * keeps the others; POWER_OFF ends the run with the value as exit code. */
static void sysregs_write(struct vm *vm, uint64_t offset, unsigned size, uint64_t value)
{
	unsigned shift = (offset & 7) * 8;
	uint64_t mask = size_mask(size);

	switch (offset & ~7ULL) {
	case SYSREGS_SCRATCH:
		vm->sysregs.scratch &= ~(mask << shift);
		vm->sysregs.scratch |= (value & mask) << shift;
		break;
	case SYSREGS_POWER_OFF:
		vm->sysregs.powered_off = 1;
		vm->sysregs.exit_code = value & mask;
		break;
	default:                                /* ID, CLOCK, reserved */
		break;
	}
}

/* The register at offset, by name, for --trace. */
static const char *sysregs_register_name(struct vm *vm, uint64_t offset, int is_write)
{
	static const char *const names[SYSREGS_REGISTERS] = {
		"ID", "CLOCK", "SCRATCH", "POWER_OFF",
	};

	(void)vm;
	(void)is_write;
	return offset / 8 < SYSREGS_REGISTERS ? names[offset / 8] : "(reserved)";
}

/* ------------------------------------------------------------------ */
/* The device table                                                    */

/* Which bus an access came on: an in or out instruction to an I/O port
 * (KVM_EXIT_IO), or a read or write of a physical address where there
 * is no RAM (KVM_EXIT_MMIO). */
enum bus { BUS_PORT, BUS_MMIO };

/* A device: the range of ports or addresses it answers, and what it
 * does with a read or a write there (offset counts from base; size is
 * 1, 2, 4 or 8 bytes; a value is little-endian, as on x86). */
struct device {
	const char *name;
	enum bus bus;
	uint64_t base, size;
	uint64_t (*read)(struct vm *vm, uint64_t offset, unsigned size);
	void (*write)(struct vm *vm, uint64_t offset, unsigned size, uint64_t value);
	const char *(*register_name)(struct vm *vm, uint64_t offset, int is_write);
};

/* Every device of the machine. A new device is a new line. */
static const struct device devices[] = {
	{ "uart", BUS_PORT, COM1_BASE, COM1_PORTS,
	  uart_read, uart_write, uart_register_name },
	{ "sysregs", BUS_MMIO, SYSREGS_BASE, SYSREGS_SIZE,
	  sysregs_read, sysregs_write, sysregs_register_name },
};

/* The device that answers size bytes at address on this bus: the whole
 * access must be inside its range. NULL: no device claims it. */
static const struct device *device_find(enum bus bus, uint64_t address, unsigned size)
{
	for (size_t i = 0; i < ARRAY_SIZE(devices); i++) {
		const struct device *d = &devices[i];

		if (d->bus == bus && address >= d->base && address - d->base < d->size &&
		    size <= d->size - (address - d->base))
			return d;
	}
	return NULL;
}

/* One access to a device: a write hands it the bytes at data; a read
 * puts its answer there, where KVM finds it on the next KVM_RUN. */
static void device_access(struct vm *vm, const struct device *d, uint64_t address,
			  unsigned size, int is_write, uint8_t *data)
{
	uint64_t value = 0;

	if (is_write) {
		memcpy(&value, data, size);
		d->write(vm, address - d->base, size, value);
	} else {
		value = d->read(vm, address - d->base, size);
		memcpy(data, &value, size);
	}
}

/* ------------------------------------------------------------------ */
/* The interrupt controllers and the timer, in the kernel              */

/* listing: irqchip */
/*
 * Ask KVM for the PC's interrupt hardware, emulated inside the kernel:
 * KVM_CREATE_IRQCHIP gives two 8259A PICs (ports 0x20-0x21, 0xa0-0xa1),
 * an I/O APIC (0xfec00000) and a local APIC per vCPU (0xfee00000);
 * KVM_CREATE_PIT2 gives the 8254 PIT (ports 0x40-0x43), wired to IRQ 0.
 * Their ports and addresses never exit to us any more, and KVM now
 * delivers interrupts into the vCPU itself. Both must come before the
 * vCPU is created, which gets its local APIC then. A KVM without them
 * cannot run this step: status 77, from its own answers.
 */
static void vm_create_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = 0 };

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0)
		die(77, "this KVM has no in-kernel interrupt controller (KVM_CAP_IRQCHIP),\n"
		    "  which step 9 needs. Run it in the lab: make lab CMD=./step9");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0)
		die(77, "this KVM has no in-kernel timer (KVM_CAP_PIT2), which step 9\n"
		    "  needs. Run it in the lab: make lab CMD=./step9");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		die(errno == EINVAL || errno == ENOTTY ? 77 : 2,
		    "KVM_CREATE_IRQCHIP failed: %s\n  This KVM cannot emulate the PIC and APICs"
		    " in the kernel; see dmesg.", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		die(errno == EINVAL || errno == ENOTTY ? 77 : 2,
		    "KVM_CREATE_PIT2 failed: %s\n  This KVM cannot emulate the PIT in the"
		    " kernel; see dmesg.", strerror(errno));
}

/* The local APIC's LVT0 register (its LINT0 pin), at its offset in
 * struct kvm_lapic_state, and the delivery mode ExtINT. */
#define APIC_LVT0          0x350
#define APIC_MODE_EXTINT   0x7

/*
 * The local APIC's LINT0 pin is where the PIC's output arrives. In
 * ExtINT mode the local APIC passes the PIC's interrupt, and its
 * vector, straight to the processor: a PC's BIOS leaves the first
 * processor so, and KVM's reset does too. We set it anyway, as other
 * VMMs do, rather than rely on it. LVT0, 32 bits:
 *
 *   31     17  16    15    14    13   12  11  10    8 7        0
 *  +---------+----+-----+-----+-----+----+---+-------+----------+
 *  |    0    |mask|trig.|IRR  |pol. |busy| 0 | mode  | vector   |
 *  +---------+----+-----+-----+-----+----+---+-------+----------+
 *   mode 111: ExtINT (the vector comes from the PIC); mask 1: off.
 */
static void vcpu_setup_lapic(struct vm *vm)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt0;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC", "See dmesg.");
	memcpy(&lvt0, lapic.regs + APIC_LVT0, sizeof(lvt0));
	lvt0 = (lvt0 & ~(0x7u << 8 | 1u << 16)) | APIC_MODE_EXTINT << 8;
	memcpy(lapic.regs + APIC_LVT0, &lvt0, sizeof(lvt0));
	kvm_ioctl(vm->vcpu_fd, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC", "See dmesg.");
}
/* end listing: irqchip */

/* ------------------------------------------------------------------ */
/* Two threads: the vCPU's, and the input's                            */

/*
 * The vCPU thread (main's) spends its time inside KVM_RUN, and while the
 * guest sleeps in hlt it does not come back: the kernel keeps it there
 * until an interrupt. So standard input is read by a second thread,
 * which puts each byte in the UART's FIFO and raises IRQ 4 with
 * KVM_IRQ_LINE. That is allowed: KVM_IRQ_LINE, like every VM ioctl,
 * may be called from any thread (KVM locks what it changes), while
 * the vCPU ioctls (KVM_RUN, KVM_GET_REGS...) belong to the vCPU's
 * thread: from another, each would wait for KVM_RUN to return.
 * The UART's state is shared: uart_lock guards it, held for each access
 * by either thread. Every KICK_MS the input thread also sends the vCPU
 * thread a signal (SIGUSR1), which brings KVM_RUN back with EINTR: the
 * run loop then looks whether the guest halted for good, or Ctrl-A x
 * was typed.
 */

/* SIGUSR1 does nothing but interrupt KVM_RUN. */
static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

/* Send the vCPU thread the kick. One that arrives outside KVM_RUN is
 * lost; the next comes KICK_MS later. */
static void vcpu_kick(struct vm *vm)
{
	pthread_kill(vm->vcpu_thread, SIGUSR1);
}

/* Whether the input thread should stop: main asked, or Ctrl-A x. */
static int input_stopping(struct vm *vm)
{
	int stop;

	pthread_mutex_lock(&vm->uart_lock);
	stop = vm->stop_input || vm->quit;
	pthread_mutex_unlock(&vm->uart_lock);
	return stop;
}

/* How many bytes the receive FIFO can take now: none until the guest
 * raises DTR (data terminal ready: a serial line's other end sends
 * nothing before, and a byte that came before the guest set its UART
 * up would be lost), none in loopback (the receiver hears the UART's
 * own transmitter) nor after the input ended. Waits up to KICK_MS for
 * room (the vCPU thread signals uart_room after each access). */
static size_t input_room(struct vm *vm)
{
	struct uart *u = &vm->uart;
	struct timespec until;
	size_t room;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += KICK_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&vm->uart_lock);
	for (;;) {
		room = uart_rx_room(u) - u->rx_count;
		if (u->input_closed || !(u->mcr & MCR_DTR) || (u->mcr & MCR_LOOP))
			room = 0;
		if (room > 0 || vm->stop_input ||
		    pthread_cond_timedwait(&vm->uart_room, &vm->uart_lock, &until))
			break;
	}
	pthread_mutex_unlock(&vm->uart_lock);
	return room;
}

/* listing: input-escape */
/* In a raw terminal, Ctrl-A starts a command, as in QEMU: Ctrl-A x
 * quits, Ctrl-A Ctrl-A sends one Ctrl-A, anything else is dropped.
 * Returns 1 when the byte goes to the guest. *escape remembers a
 * Ctrl-A between calls. */
#define CTRL_A             0x01
static int input_escape(struct vm *vm, uint8_t byte, int *escape)
{
	if (!vm->raw_terminal)
		return 1;
	if (!*escape && byte == CTRL_A) {
		*escape = 1;
		return 0;
	}
	if (!*escape)
		return 1;
	*escape = 0;
	if (byte == 'x')
		vm->quit = 1;
	return byte == CTRL_A;
}
/* end listing: input-escape */

/* listing: input-thread */
/* Read what standard input has, never more than the FIFO can take, and
 * hand it to the UART under its lock: into the FIFO, then the line
 * brought up to date (a first byte raises it). End of file, or an
 * error, drops the carrier (DCD), which the guest sees in MSR. */
static void input_read(struct vm *vm, size_t room, int *escape)
{
	struct uart *u = &vm->uart;
	uint8_t buf[UART_FIFO_SIZE];
	ssize_t got = read(u->input_fd, buf, room);

	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	pthread_mutex_lock(&vm->uart_lock);
	if (got <= 0) {
		u->input_closed = 1;
		uart_update_msr(u);
	}
	for (ssize_t i = 0; i < got; i++)
		if (input_escape(vm, buf[i], escape))
			uart_receive(u, buf[i]);
	uart_update_line(vm);
	pthread_mutex_unlock(&vm->uart_lock);
}

/* The input thread: wait up to KICK_MS for a byte (poll), take what
 * comes, kick the vCPU thread, again, until main asks it to stop. */
static void *input_thread(void *arg)
{
	struct vm *vm = arg;
	struct pollfd pfd = { .fd = vm->uart.input_fd, .events = POLLIN };
	int escape = 0;
	size_t room;

	while (!input_stopping(vm)) {
		room = input_room(vm);
		if (room > 0 && poll(&pfd, 1, KICK_MS) > 0)
			input_read(vm, room, &escape);
		vcpu_kick(vm);
	}
	return NULL;
}
/* end listing: input-thread */

/* Start the input thread. It must never take the vCPU's signals (the
 * watchdog's SIGALRM, the kick's SIGUSR1): they are blocked while it is
 * created, so it starts with them blocked, and unblocked again here. */
static void input_start(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler, .sa_flags = SA_RESTART };
	sigset_t signals, old;
	int err;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die(2, "sigaction(SIGUSR1): %s", strerror(errno));
	vm->vcpu_thread = pthread_self();
	sigemptyset(&signals);
	sigaddset(&signals, SIGALRM);
	sigaddset(&signals, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &signals, &old);
	err = pthread_create(&vm->input_thread, NULL, input_thread, vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		die(2, "pthread_create: %s", strerror(err));
	vm->input_started = 1;
}

/* Stop the input thread and wait for it (within KICK_MS). */
static void input_stop(struct vm *vm)
{
	if (!vm->input_started)
		return;
	pthread_mutex_lock(&vm->uart_lock);
	vm->stop_input = 1;
	pthread_cond_signal(&vm->uart_room);
	pthread_mutex_unlock(&vm->uart_lock);
	pthread_join(vm->input_thread, NULL);
	vm->input_started = 0;
}

/* ------------------------------------------------------------------ */
/* The terminal: raw mode, restored on every way out                   */

/* listing: raw-terminal */
/* The terminal's settings before raw mode, to put back. */
static struct termios terminal_saved;
static volatile sig_atomic_t terminal_raw;

/* Put the terminal back as it was: at exit (atexit), and on a signal
 * that ends us (tcsetattr is safe in a signal handler). */
static void terminal_restore(void)
{
	if (terminal_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &terminal_saved);
	terminal_raw = 0;
}

static void terminal_signal(int sig)
{
	terminal_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* If standard input is a terminal, make it raw: each byte as it is
 * typed (no line editing, ICANON), not echoed by the terminal (ECHO:
 * the guest echoes), Ctrl-C and Ctrl-Z as bytes for the guest (ISIG),
 * Enter as a carriage return (no ICRNL), no flow control (IXON).
 * Output keeps its processing (OPOST): \n still starts a new line. */
static int terminal_raw_mode(void)
{
	static const int fatal[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE };
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &terminal_saved) < 0)
		return 0;
	raw = terminal_saved;
	raw.c_lflag &= ~(ICANON | ECHO | ISIG | IEXTEN);
	raw.c_iflag &= ~(ICRNL | INLCR | IXON);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	atexit(terminal_restore);
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		signal(fatal[i], terminal_signal);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return 0;
	terminal_raw = 1;
	return 1;
}
/* end listing: raw-terminal */

/* ------------------------------------------------------------------ */
/* After a triple fault: the registers kept, or reset                  */

/* Whether the vCPU is now in the state of a processor after RESET or
 * INIT (Intel SDM vol. 3, "Processor State After Reset"; AMD APM vol. 2,
 * "Processor Initialization State"): CS selector 0xf000 with base
 * 0xffff0000, RIP 0xfff0, CR0.PE clear. No guest gets there itself: in
 * real mode a CS of 0xf000 has base 0xf0000. AMD's KVM puts the vCPU
 * there after a triple fault; Intel's and kvm_pvm keep its registers. */
static int vcpu_is_reset(struct vm *vm)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return 0;
	return s.cs.selector == 0xf000 && s.cs.base == 0xffff0000 &&
	       r.rip == 0xfff0 && !(s.cr0 & 1);
}

/* Remember where the guest is now: at its entry point (at_exit 0), or
 * at an exit we handled (1). A KVM that resets the vCPU after a triple
 * fault keeps nothing of where the guest was: this is the last place
 * known. It costs two ioctls per exit. */
static void vcpu_remember(struct vm *vm, int at_exit)
{
	kvm_ioctl(vm->vcpu_fd, KVM_GET_REGS, &vm->seen_regs, "KVM_GET_REGS", "See dmesg.");
	kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &vm->seen_sregs, "KVM_GET_SREGS", "See dmesg.");
	vm->seen_at_exit = at_exit;
	clock_gettime(CLOCK_MONOTONIC, &vm->seen_time);
}

/* Show the code where the guest was last seen (vcpu_remember). The vCPU
 * has stopped for good, so we put those registers back while
 * guest_show_code() reads them and KVM_TRANSLATE walks the guest's
 * tables with them, then restore the reset state for the dump. */
static void guest_show_seen_code(struct vm *vm)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &vm->seen_sregs) == 0 &&
	    ioctl(vm->vcpu_fd, KVM_SET_REGS, &vm->seen_regs) == 0)
		guest_show_code(vm, stderr);
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0 || ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
		fprintf(stderr, "  (the reset state could not be put back: %s)\n", strerror(errno));
}

/* After KVM_EXIT_SHUTDOWN: say which registers the dump shows. A KVM
 * that kept them shows the fault's, and the code at RIP; one that reset
 * the vCPU shows nothing of the fault, so we say how to find the cause,
 * and show the code where the guest was last seen instead. */
static void explain_shutdown_registers(struct vm *vm)
{
	if (!vcpu_is_reset(vm)) {
		fprintf(stderr, "  This KVM kept the registers, as Intel's and kvm_pvm do: the\n"
			"  registers below are the fault's, and RIP is where it happened.\n");
		guest_show_code(vm, stderr);
		return;
	}
	fprintf(stderr, "  This KVM reset the vCPU after the shutdown, as AMD's KVM does: the\n"
		"  registers below are the reset state (CS:RIP f000:fff0, CR2 0), not\n"
		"  the fault's. To find the cause, run with --trace to see the last\n"
		"  exits before the shutdown, and read the code where the guest was\n"
		"  last seen, %s (RIP 0x%llx):\n",
		vm->seen_at_exit ? "at its last exit" : "at its entry point, as it never exited",
		vm->seen_regs.rip);
	guest_show_seen_code(vm);
}

/* After the watchdog stopped the guest: the one thing to try next. A
 * guest that never exited loops in its own code; one still exiting when
 * stopped repeats something; one that exited, then went quiet for 0.1 s
 * or more, may be waiting for something, which its last exits tell. */
static void timeout_advice(const struct vm *vm)
{
	struct timespec now;
	double quiet;

	clock_gettime(CLOCK_MONOTONIC, &now);
	quiet = (double)(now.tv_sec - vm->seen_time.tv_sec) +
		(double)(now.tv_nsec - vm->seen_time.tv_nsec) / 1e9;
	if (!vm->seen_at_exit)
		fprintf(stderr, "  The guest never exited: it loops in its own code, around RIP\n"
			"  (eb fe is a jump to itself). Next: find that loop in your source,\n"
			"  and why its way out is never taken.\n");
	else if (quiet < 0.1)
		fprintf(stderr, "  The guest was still exiting when it was stopped (the last exit\n"
			"  at RIP 0x%llx): it runs, but never ends. Next: run with --trace\n"
			"  to see what it does over and over.\n",
			vm->seen_regs.rip);
	else
		fprintf(stderr, "  The guest exited before, last at RIP 0x%llx, then looped: it may\n"
			"  wait for something this step never gives (a port's answer, an\n"
			"  interrupt). Next: run with --trace to see its last exits.\n",
			vm->seen_regs.rip);
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

/* ------------------------------------------------------------------ */
/* The run loop                                                        */

/* KVM_EXIT_IO: the guest executed in or out (or a string version of
 * them, count times). The bytes live in the kvm_run page at data_offset:
 * for "out" the guest's bytes to consume, for "in" the place to put our
 * answer, which KVM hands to the guest when we call KVM_RUN again. The
 * device table says who answers. Returns 0 when handled, -1 for a port
 * no device claims. */
static int vcpu_handle_io(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	size_t bytes = (size_t)run->io.size * run->io.count;
	int is_write = run->io.direction == KVM_EXIT_IO_OUT;
	const struct device *d;

	/* data_offset comes from the kernel, but check it anyway: a wrong
	 * offset here would have us scribble over our own memory. */
	if (run->io.data_offset > vm->run_size || bytes > vm->run_size - run->io.data_offset)
		die(1, "KVM_EXIT_IO with data outside the kvm_run area (offset %llu, %zu bytes)",
		    (unsigned long long)run->io.data_offset, bytes);
	d = device_find(BUS_PORT, run->io.port, run->io.size);
	if (!d)
		return -1;
	for (uint32_t i = 0; i < run->io.count; i++)
		device_access(vm, d, run->io.port, run->io.size, is_write,
			      data + (size_t)i * run->io.size);
	return 0;
}

/* KVM_EXIT_MMIO: the guest read or wrote len bytes (1 to 8) at a
 * physical address where there is no RAM. KVM's instruction emulator
 * has already decoded the instruction: we get the address, the size and
 * the bytes (or give them back in mmio.data, for a read). Returns 0
 * when handled, -1 for an address no device claims. */
static int vcpu_handle_mmio(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	const struct device *d;

	if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data))
		return -1;
	d = device_find(BUS_MMIO, run->mmio.phys_addr, run->mmio.len);
	if (!d)
		return -1;
	device_access(vm, d, run->mmio.phys_addr, run->mmio.len, run->mmio.is_write,
		      run->mmio.data);
	return 0;
}

/* Print one exit for --trace, after it was handled: its name, the
 * details that matter, the bytes that moved (in either direction), and
 * the device and register that answered. */
static void trace_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	const struct device *d = NULL;
	uint64_t address = 0, value = 0;
	unsigned size = 0, count = 1;
	int is_write = 0;
	const char *name;
	struct kvm_regs regs;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
		regs.rip = ~0ULL;
	fprintf(stderr, "[trace] %-22s rip 0x%llx", exit_name(run->exit_reason), regs.rip);
	if (run->exit_reason == KVM_EXIT_IO) {
		address = run->io.port;
		size = run->io.size;
		count = run->io.count;
		is_write = run->io.direction == KVM_EXIT_IO_OUT;
		d = device_find(BUS_PORT, address, size);
		fprintf(stderr, "  %s port 0x%x size %u count %u", is_write ? "out" : "in",
			run->io.port, size, count);
		if (count == 1 && size <= 8 && run->io.data_offset <= vm->run_size - size)
			memcpy(&value, (uint8_t *)run + run->io.data_offset, size);
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		address = run->mmio.phys_addr;
		size = run->mmio.len <= 8 ? run->mmio.len : 0;
		is_write = run->mmio.is_write;
		d = device_find(BUS_MMIO, address, size);
		fprintf(stderr, "  %s %u bytes at 0x%llx", is_write ? "write" : "read",
			run->mmio.len, (unsigned long long)address);
		memcpy(&value, run->mmio.data, size);
	} else {
		fputc('\n', stderr);
		return;
	}
	if (count == 1 && size > 0)
		fprintf(stderr, " data 0x%0*llx", 2 * size, (unsigned long long)value);
	if (!d) {
		fprintf(stderr, "  (no device)\n");
		return;
	}
	name = d->register_name(vm, address - d->base, is_write);
	/* A byte through the UART's data registers: show it as a character. */
	if (count == 1 && size == 1 && (!strcmp(name, "THR") || !strcmp(name, "RBR")))
		fprintf(stderr, " '%c'", value >= 0x20 && value < 0x7f ? (int)value : '.');
	fprintf(stderr, "  %s %s\n", d->name, name);
}

/* Why the run ended, for main() to judge: the guest halted for good,
 * the guest wrote to the sysregs' POWER_OFF, Ctrl-A x, or anything
 * else. */
enum run_end { RUN_HALTED, RUN_POWERED_OFF, RUN_QUIT, RUN_FAILED };

/* The first entry of the host's page tables that the guest changed, put
 * into buf as "changed entry N of the PML4 (at 0x...)"; NULL if none
 * did. The accessed and dirty bits do not count: the CPU sets them
 * itself as it walks the tables. */
static const char *guest_changed_tables(const struct vm *vm, char *buf, size_t size)
{
	static const char *const names[] = {
		"the PML4", "the low half's PDPT", "the high half's PDPT", "the PD",
		"the devices' PD",
	};
	uint64_t now;

	for (int t = 0; t < GUEST_TABLES; t++) {
		for (int i = 0; i < 512; i++) {
			memcpy(&now, vm->mem + GUEST_PML4_ADDR + t * 0x1000 + i * 8, sizeof(now));
			if (!((now ^ vm->host_tables[t][i]) & ~(PTE_A | PTE_D)))
				continue;
			snprintf(buf, size, "changed entry %d of %s (at 0x%x)", i, names[t],
				 GUEST_PML4_ADDR + t * 0x1000 + i * 8);
			return buf;
		}
	}
	return NULL;
}

/* What the guest changed in its own paging, put into buf for
 * explain_shutdown, or NULL: CR3 (as it is now, or at the last exit if
 * the KVM reset the vCPU, which lost CR3), or the host's tables. */
static const char *guest_changed_paging(struct vm *vm, char *buf, size_t size)
{
	struct kvm_sregs s;
	uint64_t cr3 = vm->seen_sregs.cr3;

	if (!vcpu_is_reset(vm) && ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) == 0)
		cr3 = s.cr3;
	if ((cr3 & ~0xfffULL) != GUEST_PML4_ADDR) {
		snprintf(buf, size, "loaded CR3 with 0x%llx, tables of its own",
			 (unsigned long long)cr3);
		return buf;
	}
	return guest_changed_tables(vm, buf, size);
}

/* listing: shutdown-idt */
/* A triple fault, and the IDT: with none (IDTR's limit 0: the host
 * starts the guest so), the first exception or interrupt could not be
 * delivered (an interrupt, if IF is on: now, or when last seen on a
 * KVM that reset the vCPU); with one, an exception came
 * while the CPU delivered another, a double fault, and a third while
 * it delivered that. Says which; returns 1 when that explains it all,
 * 0 when the page tables are to blame (explain_shutdown goes on). */
static int explain_shutdown_idt(struct vm *vm, int reset)
{
	struct kvm_sregs s = vm->seen_sregs;
	struct kvm_regs r = vm->seen_regs;

	if (!reset && (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0 ||
		       ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0))
		s = vm->seen_sregs;
	if (s.idt.limit == 0 && !(r.rflags & 0x200)) {
		fprintf(stderr, "  a triple fault: the guest has no interrupt table (IDT: limit 0), so\n"
			"  its first exception, or its first interrupt if it enabled them\n"
			"  (sti), could not be delivered, nor the faults that failure raised\n"
			"  in turn (up to a double fault), and the CPU shut down. In long\n"
			"  mode the usual cause is a page fault, or an interrupt.\n");
		return 0;
	}
	if (s.idt.limit == 0) {
		fprintf(stderr, "  a triple fault: the guest enabled interrupts (sti: IF is 1%s)\n"
			"  with no interrupt table (IDT: limit 0). The first interrupt, from\n"
			"  the PIT or the UART, could not be delivered (#GP), nor that fault,\n"
			"  nor the double fault, and the CPU shut down. Load an IDT (lidt)\n"
			"  before sti.\n", reset ? " at its last exit" : "");
		explain_shutdown_registers(vm);
		return 1;
	}
	fprintf(stderr, "  a triple fault: the guest has an IDT (0x%llx, limit 0x%x), yet an\n"
		"  exception came while the CPU delivered another (a double fault:\n"
		"  vector 8), and another while it delivered that. The handler's gate\n"
		"  is not present, or its code or its stack is not mapped, or it\n"
		"  faults at once. Check the gates of the vectors it uses, and that\n"
		"  the handlers and the stack are mapped%s.\n",
		s.idt.base, s.idt.limit, reset ? "" : " (CR2: the last page fault)");
	explain_shutdown_registers(vm);
	return 1;
}
/* end listing: shutdown-idt */

/* KVM_EXIT_SHUTDOWN in long mode: almost always a page fault that had
 * nowhere to go. Whose tables to suspect: the guest's, if it changed
 * CR3 or the host's tables; else the host's, if the fault came before any
 * other exit; else an address they do not map. CR2 holds the address,
 * unless the KVM reset the vCPU. */
static void explain_shutdown(struct vm *vm)
{
	int reset = vcpu_is_reset(vm);
	const char *change;
	char buf[96];

	if (explain_shutdown_idt(vm, reset))
		return;
	change = guest_changed_paging(vm, buf, sizeof(buf));
	if (change)
		fprintf(stderr, "  The guest ran, then %s:\n"
			"  its own change is the likely cause, not the host's tables. Check\n"
			"  that its tables still map its code, its stack and the address it\n"
			"  touched%s.\n", change,
			reset ? "" : " (CR2)");
	else if (vm->exits == 1)
		fprintf(stderr, "  It came before any other exit, right after entry: is the code at\n"
			"  RIP mapped? Check CR3, the PML4, PDPT and PD entries, CR4.PAE and\n"
			"  EFER. Or the first address the guest touched is not mapped%s.\n",
			reset ? "" : " (CR2)");
	else
		fprintf(stderr, "  It came after %lu other exit%s, so the tables worked for a while:\n"
			"  most likely an address they do not map (a jump, a read or a\n"
			"  write)%s.\n", vm->exits - 1, vm->exits == 2 ? "" : "s",
			reset ? ", or tables of the guest's own, loaded into CR3 after\n"
			"  its last exit (the reset lost CR3)" : "; CR2 holds the address");
	fprintf(stderr, "  --trace shows KVM_TRANSLATE of the guest's addresses.\n");
	explain_shutdown_registers(vm);
}

/* KVM_EXIT_INTERNAL_ERROR: KVM itself gave up. The suberror says why;
 * for an emulation failure, newer kernels also give the instruction's
 * bytes as KVM fetched them (ndata and insn_size are bounded: the
 * arrays they index are fixed-size). */
static void explain_internal_error(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	static const char *const meaning[] = {
		[KVM_INTERNAL_ERROR_EMULATION] = "KVM could not emulate the instruction at CS:RIP",
		[KVM_INTERNAL_ERROR_SIMUL_EX] = "an exception while delivering another one",
		[KVM_INTERNAL_ERROR_DELIVERY_EV] = "KVM could not deliver an exception or interrupt",
		[KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "the CPU left the guest for a reason KVM does not expect",
	};
	unsigned int sub = run->internal.suberror;

	fprintf(stderr, "  suberror %u: %s\n", sub,
		sub < ARRAY_SIZE(meaning) && meaning[sub] ? meaning[sub] : "unknown");
	if (sub != KVM_INTERNAL_ERROR_EMULATION)
		for (unsigned i = 0; i < run->internal.ndata && i < ARRAY_SIZE(run->internal.data); i++)
			fprintf(stderr, "  data[%u] 0x%llx\n", i,
				(unsigned long long)run->internal.data[i]);
#ifdef KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES
	if (sub == KVM_INTERNAL_ERROR_EMULATION && run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned int n = run->emulation_failure.insn_size;

		fprintf(stderr, "  the instruction as KVM fetched it:");
		for (unsigned int i = 0; i < n && i < sizeof(run->emulation_failure.insn_bytes); i++)
			fprintf(stderr, " %02x", run->emulation_failure.insn_bytes[i]);
		fputc('\n', stderr);
	}
#endif
	guest_show_code(vm, stderr);
}

/* KVM_EXIT_MMIO that no device claims: the guest read or wrote an
 * address where there is neither RAM nor a device of the table. Say
 * where, how many bytes and, for a write, which ones. */
static void explain_mmio(struct vm *vm)
{
	struct kvm_run *run = vm->run;

	fprintf(stderr, "  %s %u bytes at guest-physical 0x%llx: no RAM there, and no\n"
		"  device of the table claims it\n",
		run->mmio.is_write ? "write of" : "read of", run->mmio.len,
		(unsigned long long)run->mmio.phys_addr);
	if (run->mmio.is_write) {
		fprintf(stderr, "  the bytes written:");
		for (unsigned int i = 0; i < run->mmio.len && i < sizeof(run->mmio.data); i++)
			fprintf(stderr, " %02x", run->mmio.data[i]);
		fputc('\n', stderr);
	}
	guest_show_code(vm, stderr);
}

/* Say why the guest stopped when it was not a clean HLT: which exit, what
 * KVM told us about it, what it most likely means in long mode, and the
 * registers. */
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
		explain_mmio(vm);
		break;
	case KVM_EXIT_SHUTDOWN:
		explain_shutdown(vm);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "  the CPU refused to enter the guest: hardware reason 0x%llx\n"
			"  (the control registers, EFER and CS are invalid together: long\n"
			"  mode needs CR0.PG and PE, CR4.PAE, EFER.LME and LMA, CS.l=1 db=0)\n",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		explain_internal_error(vm);
		break;
	case KVM_EXIT_EXCEPTION:
		fprintf(stderr, "  exception %u (error code 0x%x) went to us, not to the guest\n",
			run->ex.exception, run->ex.error_code);
		guest_show_code(vm, stderr);
		break;
	case KVM_EXIT_UNKNOWN:
		fprintf(stderr, "  the CPU left the guest for hardware reason 0x%llx, which KVM\n"
			"  does not handle\n", (unsigned long long)run->hw.hardware_exit_reason);
		guest_show_code(vm, stderr);
		fprintf(stderr, "  Next: look the hardware reason up in the CPU's list of exit\n"
			"  reasons (Intel SDM vol. 3, appendix C; AMD APM vol. 2, appendix C).\n");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		fprintf(stderr, "  system event type %u (1 shutdown, 2 reset, 3 crash)\n",
			run->system_event.type);
		break;
	default:
		fprintf(stderr, "  %s does not handle exit reason %u\n", program,
			run->exit_reason);
		guest_show_code(vm, stderr);
		fprintf(stderr, "  Next: look the exit reason up in the kernel's\n"
			"  Documentation/virt/kvm/api.rst, under struct kvm_run.\n");
		break;
	}
	vcpu_dump(vm, stderr);
}

/* listing: explain-interrupts */
/* After the watchdog: what the interrupt hardware in the kernel says
 * (KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_MP_STATE), for a guest that
 * waits for an interrupt that never comes, or gets too many: a line in
 * service that was never ended (no EOI), a PIT so fast its interrupts
 * leave no time for anything else, a sleep nothing wakes. A line in
 * service with IF 0 and the vCPU running may only be a handler caught
 * before its EOI: with a PIT that fast, the storm is the cause. Returns
 * 1 when it named the cause, 0 when the guest runs (timeout_advice). */
static int explain_interrupts(struct vm *vm)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
	struct kvm_pic_state *pic = &chip.chip.pic;
	struct kvm_pit_state2 pit;
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	int storm, in_handler;

	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_MP_STATE, &mp) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	fprintf(stderr, "  the interrupts: the vCPU %s, IF %d; the PIC: vectors from 0x%02x,\n"
		"  mask (IMR) 0x%02x, requests (IRR) 0x%02x, in service (ISR) 0x%02x; the PIT's\n"
		"  channel 0 counts from %u (mode %u)\n",
		mp.mp_state == KVM_MP_STATE_HALTED ? "sleeps in hlt" : "runs",
		!!(regs.rflags & 0x200), pic->irq_base, pic->imr, pic->irr, pic->isr,
		pit.channels[0].count, pit.channels[0].mode);
	storm = pit.channels[0].count > 0 && pit.channels[0].count < 1193;
	in_handler = !(regs.rflags & 0x200) && mp.mp_state != KVM_MP_STATE_HALTED;
	if (pic->isr && !(in_handler && storm))
		fprintf(stderr, "  IRQ %d is in service since its interrupt, and no EOI ended it: the\n"
			"  PIC holds back that line and every one below it in priority. A\n"
			"  handler must write 0x20 (EOI) to port 0x20 before it returns.\n",
			__builtin_ctz(pic->isr));
	else if (storm)
		fprintf(stderr, "  an interrupt storm: the PIT interrupts %u times a second (1193182 /\n"
			"  %u), more than 1000: the guest does little but enter and leave its\n"
			"  handler. Program a divisor of 1193 or more (11932: 100 Hz).\n",
			1193182 / pit.channels[0].count, pit.channels[0].count);
	else if (mp.mp_state == KVM_MP_STATE_HALTED)
		fprintf(stderr, "  It sleeps in hlt with interrupts on, and none comes: is the PIC\n"
			"  programmed, the line unmasked, the device (PIT, UART) started?\n");
	else
		return 0;
	return 1;
}
/* end listing: explain-interrupts */

/* listing: halted */
/* KVM_RUN came back with EINTR, for our kick: where is the vCPU? With
 * the irqchip in the kernel, hlt does not exit: KVM keeps the vCPU in
 * KVM_MP_STATE_HALTED until an interrupt. If interrupts are off (IF 0)
 * none can wake it: the guest halted for good, which is how such a
 * guest ends. Returns 1 then; 0 if it runs, or waits with IF 1. */
static int vcpu_halted_for_good(struct vm *vm, const struct options *opt)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE", "See dmesg.");
	if (mp.mp_state != KVM_MP_STATE_HALTED)
		return 0;
	kvm_ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
	if (opt->trace)
		fprintf(stderr, "[trace] (kick) rip 0x%llx: KVM_MP_STATE_HALTED, IF %d: the vCPU "
			"sleeps in the kernel on hlt%s\n", regs.rip, !!(regs.rflags & 0x200),
			regs.rflags & 0x200 ? ", until an interrupt" : ", for ever");
	return !(regs.rflags & 0x200);
}
/* end listing: halted */

/* Whether Ctrl-A x was typed (the input thread sets it). */
static int vcpu_quit_requested(struct vm *vm)
{
	int quit;

	pthread_mutex_lock(&vm->uart_lock);
	quit = vm->quit;
	pthread_mutex_unlock(&vm->uart_lock);
	return quit;
}

/* listing: run-loop */
/* Run the vCPU until the guest halts for good, powers off through the
 * sysregs, or does something we do not handle. Each pass: enter the
 * guest; when KVM_RUN returns, let the device table handle an I/O or
 * MMIO exit, trace it, then judge: go on, or stop and say why. The
 * PIC's and the PIT's ports, hlt and the interrupts never come here:
 * KVM handles them. KVM_RUN also returns EINTR for the watchdog's
 * signal and for the input thread's kick (Ctrl-A x; a halt for good).
 * After each exit handled, remember where the guest was. */
static enum run_end vcpu_run_loop(struct vm *vm, const struct options *opt)
{
	int handled;

	vcpu_remember(vm, 0);
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && watchdog_fired) {
				fflush(stdout);
				fprintf(stderr, "%s: timeout: the guest was still running after %g s\n",
					program, opt->timeout);
				guest_show_code(vm, stderr);
				if (!explain_interrupts(vm))
					timeout_advice(vm);
				vcpu_dump(vm, stderr);
				return RUN_FAILED;
			}
			if (errno == EINTR && vcpu_quit_requested(vm))
				return RUN_QUIT;
			if (errno == EINTR && vcpu_halted_for_good(vm, opt))
				return RUN_HALTED;
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die(2, "KVM_RUN failed: %s\n  See dmesg for what KVM reported.",
			    strerror(errno));
		}
		vm->exits++;
		if (vm->run->exit_reason == KVM_EXIT_IO)
			handled = vcpu_handle_io(vm) == 0;
		else if (vm->run->exit_reason == KVM_EXIT_MMIO)
			handled = vcpu_handle_mmio(vm) == 0;
		else
			handled = 0;
		/* The input thread traces too (KVM_IRQ_LINE). stdio locks
		 * stderr for each call, and our line takes several: hold
		 * the lock for the whole line, or its line lands inside. */
		if (opt->trace) {
			flockfile(stderr);
			trace_exit(vm);
			funlockfile(stderr);
		}

		if (vm->sysregs.powered_off)
			return RUN_POWERED_OFF;
		if (!handled) {
			explain_exit(vm);
			return RUN_FAILED;
		}
		vcpu_remember(vm, 1);
	}
}
/* end listing: run-loop */

/* Ticks out of time, more than half a period early or late (the guest
 * counts them): the vCPU could not run for a while (this machine's CPUs
 * were busy elsewhere), then KVM delivered the ticks it owed in a
 * burst. A rate measured across them is not the PIT's. Says so, and
 * returns 1 then. */
static int vcpu_was_held_up(struct vm *vm, uint64_t ticks)
{
	uint64_t odd;

	memcpy(&odd, vm->mem + GUEST_ODD_TICKS, sizeof(odd));
	if (odd == 0)
		return 0;
	fprintf(stderr, "%s: the tick rate is not judged: %llu of the last %llu ticks came out of time:\n"
		"  the vCPU was held up (this machine was busy), then KVM delivered the\n"
		"  ticks it owed in a burst\n", program, (unsigned long long)odd,
		(unsigned long long)(ticks - TIMER_MARK + 1));
	return 1;
}

/* listing: tick-rate */
/* The guest's timer: it counted ticks, and left the host's time (the
 * sysregs' clock) at tick TIMER_MARK and at the last. Their rate must
 * be the PIT's 100 Hz, within TIMER_TOLERANCE, over at least 10 ticks.
 * Prints what it finds; returns 0 when the rate is right, 1 when it is
 * wrong, 2 when it cannot be judged: the vCPU was held up. */
static int guest_check_ticks(struct vm *vm)
{
	uint64_t ticks, mark_ns, last_ns;
	double seconds, hz;

	memcpy(&ticks, vm->mem + GUEST_TICKS_ADDR, sizeof(ticks));
	memcpy(&mark_ns, vm->mem + GUEST_MARK_TICK, sizeof(mark_ns));
	memcpy(&last_ns, vm->mem + GUEST_LAST_TICK, sizeof(last_ns));
	seconds = (double)(last_ns - mark_ns) / 1e9;
	if (ticks < TIMER_MARK + 10 || mark_ns == 0 || last_ns <= mark_ns) {
		fprintf(stderr, "%s: the guest counted %llu timer ticks: too few to judge the rate\n",
			program, (unsigned long long)ticks);
		return 1;
	}
	hz = (double)(ticks - TIMER_MARK) / seconds;
	printf("%s: the guest counted %llu timer ticks, the last %llu in %.3f s\n", program,
	       (unsigned long long)ticks, (unsigned long long)(ticks - TIMER_MARK), seconds);
	if (hz < TIMER_HZ * (1 - TIMER_TOLERANCE) || hz > TIMER_HZ * (1 + TIMER_TOLERANCE)) {
		if (vcpu_was_held_up(vm, ticks))
			return 2;
		fprintf(stderr, "%s: wrong tick rate: %.1f Hz is not %d Hz +-%d%%\n", program, hz,
			TIMER_HZ, (int)(TIMER_TOLERANCE * 100));
		return 1;
	}
	return 0;
}
/* end listing: tick-rate */

/* listing: check-result */
/* The guest ended by itself. The embedded guest powers off with exit
 * code 0 when its checks passed, after leaving 42 at 0x400 and its
 * ticks at 0x408, whose rate must be right. A guest of the learner's
 * may also halt for good (hlt with interrupts off); its ending is
 * reported, and an exit code other than 0 is a failure (status 1: the
 * statuses 2 and 77 speak of the host, not of the guest). */
static int guest_check(struct vm *vm, const struct options *opt, enum run_end end)
{
	uint64_t code = vm->sysregs.exit_code;
	struct kvm_regs regs;
	uint32_t result;

	memcpy(&result, vm->mem + GUEST_RESULT_ADDR, sizeof(result));
	fflush(stdout);
	if (end == RUN_HALTED) {
		kvm_ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
		printf("%s: the guest halted with interrupts off: RAX = %llu, memory[0x%x] = %u\n",
		       program, regs.rax, GUEST_RESULT_ADDR, result);
		if (opt->guest_path)
			return 0;
		fprintf(stderr, "%s: wrong ending: the guest should power off through the sysregs\n",
			program);
		vcpu_dump(vm, stderr);
		return 1;
	}
	printf("%s: the guest powered off with exit code %llu, memory[0x%x] = %u\n", program,
	       (unsigned long long)code, GUEST_RESULT_ADDR, result);
	if (code != 0) {
		fprintf(stderr, "%s: the guest reports a failure: exit code %llu%s\n", program,
			(unsigned long long)code,
			code >= 0x80 && code < 0xa0 ? " (0x80 + an exception's vector)" : "");
		return 1;
	}
	if (opt->guest_path)
		return 0;
	if (result != GUEST_EXPECTED) {
		fprintf(stderr, "%s: wrong result: expected %d in memory\n", program,
			GUEST_EXPECTED);
		return 1;
	}
	switch (guest_check_ticks(vm)) {
	case 1:
		return 1;
	case 2:
		printf("%s: exit code 0 and %d: the guest ran as it should (its timer's rate\n"
		       "  not judged)\n", program, GUEST_EXPECTED);
		return 0;
	}
	printf("%s: exit code 0, %d, and the PIT's %d Hz within %d%%: the guest ran as it should\n",
	       program, GUEST_EXPECTED, TIMER_HZ, (int)(TIMER_TOLERANCE * 100));
	return 0;
}
/* end listing: check-result */

int main(int argc, char **argv)
{
	struct options opt = parse_options(argc, argv);
	struct vm vm = { 0 };
	enum run_end end;
	uint64_t entry;
	size_t size;

	/* The UART's output is line-buffered, so that --trace lines (on
	 * stderr) fall between whole lines of output; but not buffered at
	 * all when you type to the guest (stdin a terminal): its echo of a
	 * key, and a shell's prompt, have no newline after them. */
	setvbuf(stdout, NULL, isatty(STDIN_FILENO) ? _IONBF : _IOLBF, 0);
	command_line = argv;    /* die_no_kvm repeats it for the lab */
	vm.kvm_fd = kvm_open();
	vm_create(&vm);
	vm_create_irqchip(&vm);
	vcpu_create(&vm);
	vcpu_setup_lapic(&vm);
	guest_build_gdt(&vm);
	guest_build_page_tables(&vm);
	memcpy(vm.host_tables, vm.mem + GUEST_PML4_ADDR, sizeof(vm.host_tables));
	size = guest_load(&vm, &opt, &entry);
	vcpu_setup_long_mode(&vm);
	vcpu_set_entry(&vm, entry);
	uart_reset(&vm.uart, STDIN_FILENO);
	pthread_mutex_init(&vm.uart_lock, NULL);
	pthread_cond_init(&vm.uart_room, NULL);
	vm.trace = opt.trace;
	printf("%s: 64-bit long mode; in the kernel: PICs, I/O APIC, local APIC, PIT; "
	       "ours: a 16550A UART\n%s: at ports 0x%x-0x%x on IRQ %d, the sysregs at 0x%llx\n",
	       program, program, COM1_BASE, COM1_BASE + COM1_PORTS - 1, COM1_IRQ, SYSREGS_BASE);
	if (opt.trace) {
		fprintf(stderr, "[trace] %zu bytes of guest code at 0x%jx\n", size,
			(uintmax_t)entry);
		trace_mode(&vm, "start");
		trace_translate(&vm, GUEST_LOAD_ADDR);
		trace_translate(&vm, SYSREGS_BASE);
	}

	/* In a terminal, keys go to the guest as they are typed, and nobody
	 * types on a timer: no watchdog unless asked (Ctrl-A x quits). */
	vm.raw_terminal = terminal_raw_mode();
	if (vm.raw_terminal && !opt.timeout_set)
		opt.timeout = 0;
	if (vm.raw_terminal)
		printf("%s: your keys go to the guest; Ctrl-A x quits\n", program);
	input_start(&vm);
	watchdog_start(&vm, opt.timeout);
	end = vcpu_run_loop(&vm, &opt);
	input_stop(&vm);
	terminal_restore();
	if (end == RUN_QUIT) {
		fflush(stdout);
		fprintf(stderr, "\n%s: Ctrl-A x: quit, the guest still running\n", program);
		return 1;
	}
	if (end == RUN_FAILED)
		return 1;
	if (opt.trace)
		trace_mode(&vm, "end");
	return guest_check(&vm, &opt, end);
}
