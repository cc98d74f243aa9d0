/*
 * step10.c: booting Linux. Step 9's machine (the PC's interrupt
 * controllers and timer in the kernel, a 16550A UART at COM1 on IRQ 4,
 * standard input typed into it by a second thread) runs a stock Linux
 * kernel, a bzImage, with an initramfs. The host loads them by the x86
 * boot protocol: it checks the kernel's setup header, fills the "zero
 * page" (struct boot_params: the memory map, the command line, where
 * the initramfs is), builds page tables and a GDT, and enters the
 * kernel at its 64-bit entry point. The vCPU gets the CPUID that makes
 * Linux see a KVM guest (and so use kvm-clock), and the machine gets
 * the few devices Linux looks for: the UART as its console, a CMOS
 * clock, and the keyboard controller's reset line, its way out.
 *
 * KVM, step by step, chapter 10. Build and run:
 *
 *     make step10 linux
 *     ./step10 --kernel build/linux/vmlinuz --initrd build/linux/initramfs.cpio.gz
 *     ./step10 ... --shell              a busybox shell instead of powering off
 *     ./step10 ... --append "quiet"     more for the kernel's command line
 *
 * In a terminal, standard input is in raw mode: each key goes to the
 * guest as it is typed, and Ctrl-A x quits, as in QEMU.
 *
 * Exit status: 0 Linux powered off (halt for good) or rebooted, with no
 * panic; 1 the kernel panicked, hung (the watchdog), or the vCPU
 * stopped any other way; 2 usage or host setup error, or a kernel or
 * initramfs this step cannot load; 77 this host's KVM cannot run the
 * step (no in-kernel irqchip or PIT).
 */
#define _GNU_SOURCE
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
 * Guest-physical memory: --memory MiB of RAM from address 0 (256 MiB by
 * default). The host fills the first 1 MiB with what the kernel reads
 * at its entry; the kernel goes where its header asks (pref_address:
 * 16 MiB for Debian's), the initramfs at the top of RAM.
 *
 *   0x000000 +--------------------------+
 *            | (unused)                 |
 *   0x000500 | GDT: 4 descriptors       | <- GDTR
 *   0x001000 | stack for the entry,     |
 *            |   growing down           |
 *   0x007000 | boot_params, the "zero   | <- RSI at the entry
 *            |   page": 4 KiB           |
 *   0x009000 | PML4                     | <- CR3
 *   0x00a000 | PDPT                     |
 *   0x00b000 | 4 PDs: 4 GiB identity-   |
 *            |   mapped in 2 MiB pages  |
 *   0x00f000 +--------------------------+
 *   0x020000 | the kernel command line  | <- cmd_line_ptr
 *            |                          |
 *   0x09fc00 +--------------------------+
 *            | reserved in the e820 map |
 *            | (a PC's EBDA, VGA, BIOS) |
 *   0x100000 +--------------------------+
 *            | free RAM                 |
 *  0x1000000 +--------------------------+ <- pref_address (code32_start)
 *            | the kernel: the bzImage  |    RIP = code32_start + 0x200
 *            | less its setup sectors,  |
 *            | then room to decompress  |
 *            | itself (init_size)       |
 *            +--------------------------+
 *            | free RAM                 |
 *            +--------------------------+ <- ramdisk_image
 *            | the initramfs            |
 *        RAM +--------------------------+
 *                        ...  no RAM: an access is a VM exit
 * 0xfec00000   the I/O APIC, 0xfee00000 the local APIC (KVM's)
 * 0xfffbc000   KVM's identity-map page and TSS (Intel), 4 pages
 */
#define GUEST_GDT_ADDR     0x500
#define GUEST_STACK_TOP    0x7000
#define GUEST_ZERO_PAGE    0x7000
#define GUEST_PML4_ADDR    0x9000
#define GUEST_PDPT_ADDR    0xa000
#define GUEST_PD_ADDR      0xb000    /* 4 of them, to 0xefff */
#define GUEST_PDS          4         /* 4 x 1 GiB: the low 4 GiB */
#define GUEST_CMDLINE_ADDR 0x20000
#define GUEST_LOW_RAM_END  0x9fc00   /* the e820 map: RAM below, reserved above */
#define GUEST_HIGH_RAM     0x100000  /* ... to 1 MiB, RAM again from here */
#define GUEST_TSS_ADDR     0xfffbd000UL  /* KVM_SET_TSS_ADDR: 3 pages */
#define GUEST_IDMAP_ADDR   0xfffbc000ULL /* KVM_SET_IDENTITY_MAP_ADDR: 1 page */
#define HUGE_PAGE          0x200000  /* 2 MiB: a PD entry's page */

/* --memory: how much RAM, in MiB. Below 64 MiB Linux hardly starts; the
 * RAM must end below 3 GiB, where a PC keeps its devices (the APICs). */
#define DEFAULT_MEMORY_MIB 256
#define MIN_MEMORY_MIB     64
#define MAX_MEMORY_MIB     3072

/* The devices: COM1's eight ports and its interrupt line, IRQ 4, as on
 * a PC; the CMOS clock's two ports; the keyboard controller's command
 * port, through which Linux resets the machine. */
#define COM1_BASE          0x3f8
#define COM1_PORTS         8
#define COM1_IRQ           4
#define CMOS_BASE          0x70
#define CMOS_PORTS         2
#define KBC_COMMAND        0x64
/* end listing: memory-map */

/* The GDT's entries. The 64-bit boot protocol asks for a flat code
 * segment at selector 0x10 (__BOOT_CS) and a flat data segment at 0x18
 * (__BOOT_DS); entries 0 (null) and 1 (unused) stay 0. */
#define GDT_NULL           0x00
#define GDT_CODE           0x10
#define GDT_DATA           0x18
#define GDT_ENTRIES        4

/* Control register and EFER bits this step uses. */
#define CR0_PE             (1u << 0)   /* protection enable */
#define CR0_ET             (1u << 4)   /* extension type: always 1 */
#define CR0_PG             (1u << 31)  /* paging */
#define CR4_PAE            (1u << 5)   /* 64-bit page table entries */
#define EFER_LME           (1u << 8)   /* long mode enable */
#define EFER_LMA           (1u << 10)  /* long mode active (set by the CPU) */

/* Page table entry bits (the same at every level; see pte()). */
#define PTE_P              (1ull << 0) /* present */
#define PTE_W              (1ull << 1) /* writable */
#define PTE_PS             (1ull << 7) /* page size: in a PD, a 2 MiB page */

#define DEFAULT_DEVICE     "/dev/kvm"
#define DEFAULT_TIMEOUT    60.0   /* seconds; --timeout 0 turns it off */
#define KICK_MS            100    /* the input thread wakes the vCPU this often */

/* listing: base-cmdline */
/* What the kernel always gets on its command line, before --append:
 * its console on our UART (ttyS0, COM1); on a panic, a reboot at once
 * (panic=-1, no wait), which ends the run; and no PCI bus (pci=off):
 * there is none, and Linux would look for one port by port, each read
 * a VM exit (3 s of the boot in the lab, measured). */
#define BASE_CMDLINE       "console=ttyS0 panic=-1 pci=off"
/* end listing: base-cmdline */

/* The line our initramfs's /init prints when it starts (linux/init):
 * the timeline's milestone, and what tells a boot that got there. */
#define INIT_MARKER        "step10-init: /init reached"

static const char *program = "step10";

/* What the command line asked for. */
struct options {
	const char *kernel_path;   /* --kernel FILE: a bzImage */
	const char *initrd_path;   /* --initrd FILE: an initramfs (cpio, maybe compressed) */
	const char *append;        /* --append CMDLINE: more for the kernel, or NULL */
	int shell;                 /* --shell: "shell" on the kernel's command line */
	unsigned long memory_mib;  /* --memory MiB */
	int trace;                 /* --trace: print every VM exit */
	double timeout;            /* --timeout SECONDS: 0 means no watchdog */
	int timeout_set;           /* --timeout was given (else a terminal has none) */
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

/* The CMOS: the index register port 0x70 selects, and 128 bytes of
 * battery-backed RAM, of which the first 14 are the clock's. */
struct cmos {
	uint8_t index;
	uint8_t ram[128];
};

/* A kernel and an initramfs, read from their files before any VM exists
 * (so that a bad one is refused before we touch KVM), and where they go. */
struct boot_files {
	uint8_t *kernel;          /* the whole bzImage */
	size_t kernel_size;
	size_t setup_size;        /* its real-mode part: (setup_sects + 1) * 512 */
	uint64_t load_addr;       /* where its protected-mode part goes */
	uint64_t init_size;       /* the room it needs there, decompressing */
	uint8_t *initrd;
	size_t initrd_size;
	uint64_t initrd_addr;     /* where the initramfs goes: the top of RAM */
	char *cmdline;            /* BASE_CMDLINE, then --shell's, then --append */
};

/* The boot timeline: when each milestone came, in seconds since the
 * program started (0: not reached). */
struct timeline {
	struct timespec start;
	double first_run, first_byte, linux_version, init_marker, end;
	const char *end_what;     /* how it ended: "power-off", "reboot"... */
};

/* The console: what Linux wrote to the UART, line by line, so that the
 * host can spot the milestones and show the last lines when it fails. */
#define CONSOLE_LINES      20
#define CONSOLE_LINE_MAX   200
struct console {
	char line[CONSOLE_LINE_MAX];    /* the line being written */
	size_t length;
	char last[CONSOLE_LINES][CONSOLE_LINE_MAX]; /* the last whole lines */
	unsigned lines;                 /* how many whole lines so far */
	int panic;                      /* a "Kernel panic" line came */
	char panic_line[CONSOLE_LINE_MAX]; /* the first one */
};

/* The VM and its one vCPU: file descriptors, the memory we share, and
 * the state of the devices we emulate. */
struct vm {
	int kvm_fd;             /* /dev/kvm: system-wide ioctls */
	int vm_fd;              /* KVM_CREATE_VM: this virtual machine */
	int vcpu_fd;            /* KVM_CREATE_VCPU: its processor */
	uint8_t *mem;           /* guest RAM, as the host sees it */
	uint64_t mem_size;      /* its size in bytes */
	struct kvm_run *run;    /* the vCPU's shared page: why KVM_RUN returned */
	size_t run_size;
	unsigned long exits;    /* how many times KVM_RUN has returned */
	struct uart uart;       /* COM1 */
	struct cmos cmos;       /* the clock at 0x70 */
	int reset;              /* the keyboard controller was told to reset */
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

/* The console and the timeline: the UART's output feeds them from deep
 * inside the device code, which knows nothing of Linux; one of each. */
static struct console console;
static struct timeline timeline;

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
		"usage: %s --kernel BZIMAGE --initrd INITRAMFS [--append CMDLINE] [--shell]\n"
		"              [--memory MiB] [--trace] [--timeout SECONDS] [--help]\n"
		"\n"
		"Boots Linux: loads a bzImage by the x86 boot protocol, with an initramfs,\n"
		"and enters the kernel at its 64-bit entry point, on a machine with the PC's\n"
		"interrupt controllers and timer in the kernel (KVM_CREATE_IRQCHIP,\n"
		"KVM_CREATE_PIT2), a 16550A UART at ports 0x%x to 0x%x on IRQ %d (ttyS0,\n"
		"the console: this program's standard output and input), a CMOS clock at\n"
		"ports 0x%x-0x%x, and the keyboard controller's reset at port 0x%x. The\n"
		"run ends when Linux halts for good (power-off) or resets the machine\n"
		"(reboot); at the end, a boot timeline on stderr.\n"
		"\n"
		"  --kernel FILE      the kernel: a bzImage (boot protocol 2.12 or later)\n"
		"  --initrd FILE      the initramfs, loaded at the top of RAM\n"
		"  --append CMDLINE   more for the kernel's command line, which starts\n"
		"                     with \"%s\"\n"
		"  --shell            adds \"shell\": our initramfs's /init then starts a\n"
		"                     shell instead of powering off\n"
		"  --memory MiB       the guest's RAM (default %d, from %d to %d)\n"
		"  --trace            print every VM exit with the device and register it\n"
		"                     reached, and each change of the UART's interrupt line\n"
		"                     (on stderr)\n"
		"  --timeout SECONDS  stop a guest still running after this long\n"
		"                     (default %g, 0 = never; in a terminal, never)\n"
		"  --help             this text\n"
		"\n"
		"The device is %s, or $KVM_DEVICE if set.\n"
		"Exit status: 0 Linux powered off or rebooted, with no panic; 1 it\n"
		"panicked, hung, or stopped any other way (or Ctrl-A x); 2 usage or host\n"
		"setup error, or a kernel or initramfs this step cannot load; 77 this\n"
		"host's KVM cannot run this step.\n",
		program, COM1_BASE, COM1_BASE + COM1_PORTS - 1, COM1_IRQ, CMOS_BASE,
		CMOS_BASE + CMOS_PORTS - 1, KBC_COMMAND, BASE_CMDLINE, DEFAULT_MEMORY_MIB,
		MIN_MEMORY_MIB, MAX_MEMORY_MIB, DEFAULT_TIMEOUT, DEFAULT_DEVICE);
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

/* Parse --memory's number of MiB, rejecting anything that is not one in
 * the range this step can map. */
static unsigned long parse_memory(const char *text)
{
	char *end;
	unsigned long mib;

	errno = 0;
	mib = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || mib < MIN_MEMORY_MIB ||
	    mib > MAX_MEMORY_MIB)
		die(2, "--memory wants a number of MiB from %d to %d, not \"%s\"",
		    MIN_MEMORY_MIB, MAX_MEMORY_MIB, text);
	return mib;
}

/* The options that take a value, and where each one's value goes. */
static void parse_value(struct options *opt, const char *arg, const char *value)
{
	if (!strcmp(arg, "--kernel"))
		opt->kernel_path = value;
	else if (!strcmp(arg, "--initrd"))
		opt->initrd_path = value;
	else if (!strcmp(arg, "--append"))
		opt->append = value;
	else if (!strcmp(arg, "--memory"))
		opt->memory_mib = parse_memory(value);
	else
		opt->timeout = parse_seconds(value);
	opt->timeout_set |= !strcmp(arg, "--timeout");
}

/* Read the command line into struct options; bad input is status 2.
 * --kernel and --initrd are required: there is no built-in guest. */
static struct options parse_options(int argc, char **argv)
{
	static const char *const with_value[] = {
		"--kernel", "--initrd", "--append", "--memory", "--timeout",
	};
	struct options opt = { .timeout = DEFAULT_TIMEOUT, .memory_mib = DEFAULT_MEMORY_MIB };

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int takes_value = 0;

		for (size_t k = 0; k < ARRAY_SIZE(with_value); k++)
			takes_value |= !strcmp(arg, with_value[k]);
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(arg, "--trace")) {
			opt.trace = 1;
		} else if (!strcmp(arg, "--shell")) {
			opt.shell = 1;
		} else if (takes_value) {
			if (i + 1 >= argc)
				die(2, "%s needs a value (see --help)", arg);
			parse_value(&opt, arg, argv[++i]);
		} else {
			fprintf(stderr, "%s: unknown option \"%s\"\n", program, arg);
			usage(stderr);
			exit(2);
		}
	}
	if (!opt.kernel_path || !opt.initrd_path)
		die(2, "--kernel and --initrd are needed: make linux builds both, then\n"
		    "  ./%s --kernel build/linux/vmlinuz --initrd build/linux/initramfs.cpio.gz",
		    program);
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

/* listing: vm-create */
/* Create the VM and give it mem_size bytes of RAM at guest-physical
 * address 0, backed by anonymous memory of ours (MAP_NORESERVE: the
 * host gives a page only when the guest first touches it), 2 MiB-
 * aligned and marked for transparent huge pages (MADV_HUGEPAGE), as
 * QEMU does: KVM then maps the guest's RAM in 2 MiB pages, and Linux
 * touching its memory for the first time costs 512 times fewer
 * faults (a hint: without THP, 4 KiB pages, slower but the same). Two
 * addresses KVM needs on Intel only, both outside RAM: the TSS and the
 * identity-mapped page table through which VT-x without "unrestricted
 * guest" runs a vCPU in real mode or without paging (AMD's KVM accepts
 * and ignores them). Linux enters 64-bit mode from us directly, but a
 * reboot or the real-mode trampoline that starts other CPUs needs them
 * on such a machine. The identity map must come before the vCPU. */
static void vm_create(struct vm *vm)
{
	struct kvm_userspace_memory_region region;
	uint64_t idmap = GUEST_IDMAP_ADDR;
	void *raw;

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)
		die(2, "this KVM lacks KVM_CAP_USER_MEMORY, which every step needs");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		die_no_kvm("KVM_CREATE_VM failed: %s\n"
		    "  Is another hypervisor holding the hardware? See dmesg.", strerror(errno));
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		kvm_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)GUEST_TSS_ADDR,
			  "KVM_SET_TSS_ADDR", "See dmesg.");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0)
		kvm_ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap,
			  "KVM_SET_IDENTITY_MAP_ADDR", "See dmesg.");

	raw = mmap(NULL, vm->mem_size + HUGE_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		die(2, "mmap of %llu MiB of guest memory: %s",
		    (unsigned long long)(vm->mem_size >> 20), strerror(errno));
	vm->mem = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	madvise(vm->mem, vm->mem_size, MADV_HUGEPAGE);
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem_size,
		.userspace_addr = (uintptr_t)vm->mem,
	};
	kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region,
		  "KVM_SET_USER_MEMORY_REGION", "Step 2 shows what this ioctl checks.");
}
/* end listing: vm-create */

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
 * means "no segment"), entry 1 is unused, then code (0x10) and data
 * (0x18), where the boot protocol wants them. Returns nothing: the vCPU
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

/* listing: identity-map */
/*
 * Map the low 4 GiB to themselves, virtual = physical, in 2 MiB pages:
 * one PML4 entry, four PDPT entries (1 GiB each), four full PDs of 512
 * entries. The boot protocol asks for the kernel, its init_size, the
 * zero page and the command line to be identity-mapped; 4 GiB covers
 * all of RAM (at most 3 GiB) and costs six pages. Linux builds its own
 * tables at once and never looks at ours again.
 *
 * 0x0000000001000000: PML4[0] -> PDPT[0] -> PD 0 [8] -> 2 MiB page at 16 MiB
 * 0x00000000c0200000: PML4[0] -> PDPT[3] -> PD 3 [1] -> page at 0xc0200000
 */
static void guest_build_page_tables(struct vm *vm)
{
	table_set(vm, GUEST_PML4_ADDR, 0, pte(GUEST_PDPT_ADDR, PTE_P | PTE_W));
	for (int g = 0; g < GUEST_PDS; g++) {
		uint64_t pd = GUEST_PD_ADDR + g * 0x1000;

		table_set(vm, GUEST_PDPT_ADDR, g, pte(pd, PTE_P | PTE_W));
		for (int i = 0; i < 512; i++)
			table_set(vm, pd, i, pte(((uint64_t)g << 30) + ((uint64_t)i << 21),
						 PTE_P | PTE_W | PTE_PS));
	}
}
/* end listing: identity-map */

/* listing: entry */
/*
 * Enter Linux at its 64-bit entry point, as the boot protocol's "64-bit
 * boot protocol" section asks: long mode, paging on with the identity
 * map, CS a flat 64-bit code segment at selector 0x10 (__BOOT_CS), DS,
 * ES and SS flat data at 0x18 (__BOOT_DS), interrupts off (RFLAGS.IF 0),
 * RSI the zero page's address; RIP the protected-mode kernel's load
 * address + 0x200.
 *
 * Why 64-bit, not the 32-bit entry (code32_start itself, in protected
 * mode with paging off): this is the mode steps 7 to 9 built, one
 * KVM_SET_SREGS away, and some KVMs cannot run 32-bit code without
 * paging for long (kvm_pvm has no 32-bit paging outside long mode).
 * The 32-bit entry wants less of us (no page tables: the kernel builds
 * its own), which is why bootloaders like GRUB use it; chapter 10
 * shows what it takes.
 */
static void vcpu_setup_entry(struct vm *vm, const struct boot_files *bf)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", "See dmesg.");
	sregs.gdt.base = GUEST_GDT_ADDR;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.idt.base = 0;             /* no IDT: Linux loads its own */
	sregs.idt.limit = 0;
	sregs.cs = flat_code64;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_data;
	sregs.cr3 = GUEST_PML4_ADDR;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
	kvm_ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS",
		  "KVM refused this long-mode state; see dmesg.");

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;              /* bit 1 is reserved and always 1; IF 0 */
	regs.rip = bf->load_addr + 0x200;
	regs.rsi = GUEST_ZERO_PAGE;
	regs.rsp = GUEST_STACK_TOP;
	kvm_ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
}
/* end listing: entry */

/* ------------------------------------------------------------------ */
/* The kernel and the initramfs: files                                 */

/* Read a whole file (the kernel or the initramfs; what names it) into
 * memory of ours. Refuses what is not a regular, non-empty file, and a
 * file larger than limit bytes, saying so with why_limit. *size gets
 * its size. */
static uint8_t *file_read_all(const char *path, const char *what, size_t *size,
			      uint64_t limit, const char *why_limit)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	uint8_t *buf;
	size_t done = 0;

	if (fd < 0)
		die(2, "cannot open %s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0)
		die(2, "cannot stat %s %s: %s", what, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		die(2, "%s %s is a directory", what, path);
	if (!S_ISREG(st.st_mode))
		die(2, "%s %s is not a regular file", what, path);
	if (st.st_size == 0)
		die(2, "%s %s is empty", what, path);
	if ((uint64_t)st.st_size > limit)
		die(2, "%s %s is too large: %llu MiB, %s", what, path,
		    (unsigned long long)(st.st_size >> 20), why_limit);
	buf = malloc(st.st_size);
	if (!buf)
		die(2, "no memory for %s %s (%lld bytes)", what, path, (long long)st.st_size);
	while (done < (size_t)st.st_size) {
		ssize_t got = read(fd, buf + done, st.st_size - done);

		if (got <= 0)
			die(2, "cannot read %s %s: %s", what, path,
			    got < 0 ? strerror(errno) : "it shrank while we read it");
		done += got;
	}
	close(fd);
	*size = done;
	return buf;
}

/* ------------------------------------------------------------------ */
/* The x86 boot protocol: the setup header                             */

/* listing: setup-header */
/*
 * A bzImage begins with its "setup": real-mode code in 512-byte sectors
 * that a BIOS bootloader would run; the compressed kernel follows it.
 * The first sector holds the setup header, which says how to load the
 * rest (the kernel's Documentation/arch/x86/boot.rst). The fields this
 * step reads, at their offsets in the file (and in the zero page, which
 * carries a copy of the header at the same offsets):
 *
 *  offset size  field               what
 *  0x1f1  1     setup_sects         real-mode sectors after the first (0: 4)
 *  0x1f4  4     syssize             the protected-mode part, in 16-byte units
 *  0x1fe  2     boot_flag           0xaa55, a boot sector's signature
 *  0x201  1     (jump's offset)     the header ends at 0x202 + this byte
 *  0x202  4     header              "HdrS": this is the boot protocol's header
 *  0x206  2     version             the protocol: 0x020c is 2.12
 *  0x210  1     type_of_loader      ours: 0xff, "no registered ID"
 *  0x211  1     loadflags           bit 0 LOADED_HIGH: a bzImage (at 1 MiB+)
 *  0x214  4     code32_start        where the protected-mode part is loaded
 *  0x218  4     ramdisk_image       where the initramfs is
 *  0x21c  4     ramdisk_size        its size
 *  0x228  4     cmd_line_ptr        where the command line is (a C string)
 *  0x22c  4     initrd_addr_max     the highest address the initramfs may use
 *  0x230  4     kernel_alignment    (relocatable kernels) its alignment
 *  0x234  1     relocatable_kernel  1: it may go elsewhere than pref_address
 *  0x236  2     xloadflags          bit 0 XLF_KERNEL_64: a 64-bit entry at +0x200
 *  0x238  4     cmdline_size        the longest command line, less its NUL
 *  0x258  8     pref_address        where it prefers to be loaded
 *  0x260  4     init_size           the room it needs from there on
 */
#define HDR_SETUP_SECTS     0x1f1
#define HDR_SYSSIZE         0x1f4
#define HDR_BOOT_FLAG       0x1fe
#define HDR_JUMP            0x200
#define HDR_MAGIC           0x202
#define HDR_VERSION         0x206
#define HDR_TYPE_OF_LOADER  0x210
#define HDR_LOADFLAGS       0x211
#define HDR_CODE32_START    0x214
#define HDR_RAMDISK_IMAGE   0x218
#define HDR_RAMDISK_SIZE    0x21c
#define HDR_CMD_LINE_PTR    0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGN    0x230
#define HDR_RELOCATABLE     0x234
#define HDR_XLOADFLAGS      0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_PREF_ADDRESS    0x258
#define HDR_INIT_SIZE       0x260
#define HDR_END_MIN         0x264     /* the file must hold the header to here */

#define LOADED_HIGH         0x01      /* loadflags bit 0 */
#define XLF_KERNEL_64       0x01      /* xloadflags bit 0 */
#define LOADER_UNDEFINED    0xff      /* type_of_loader: a loader with no ID */

/* The oldest protocol this step loads: 2.12 (Linux 3.8, 2013), the
 * first with xloadflags, whose bit 0 promises the 64-bit entry point we
 * jump to. (2.06 brought cmdline_size, 2.10 pref_address and init_size.) */
#define PROTOCOL_MIN        0x020c

/* Little-endian fields of the header (or of the zero page). */
static uint32_t get_le(const uint8_t *p, int size)
{
	uint32_t v = 0;

	for (int i = size - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le(uint8_t *p, int size, uint64_t v)
{
	for (int i = 0; i < size; i++)
		p[i] = v >> (8 * i);
}

/* The file's first bytes: a bzImage, or something else we can name (an
 * ELF vmlinux is the usual mistake: the kernel build makes both). */
static void bzimage_check_kind(const char *path, const uint8_t *k, size_t size)
{
	if (size >= 4 && !memcmp(k, "\x7f" "ELF", 4))
		die(2, "%s: this is an ELF file (a vmlinux?), not a bzImage: the boot\n"
		    "  protocol loads the compressed image (arch/x86/boot/bzImage, or\n"
		    "  /boot/vmlinuz-* on a distribution)", path);
	if (size < HDR_END_MIN)
		die(2, "%s: truncated or not a kernel: %zu bytes, less than a bzImage's\n"
		    "  setup header (0x%x bytes)", path, size, HDR_END_MIN);
	if (memcmp(k + HDR_MAGIC, "HdrS", 4) || get_le(k + HDR_BOOT_FLAG, 2) != 0xaa55)
		die(2, "%s: not a bzImage: no \"HdrS\" at 0x%x and boot flag 0xaa55 at 0x%x\n"
		    "  (the x86 boot protocol's setup header)", path, HDR_MAGIC, HDR_BOOT_FLAG);
}

/* The protocol version and the flags this step relies on. */
static void bzimage_check_protocol(const char *path, const uint8_t *k)
{
	unsigned version = get_le(k + HDR_VERSION, 2);

	if (version < PROTOCOL_MIN)
		die(2, "%s: boot protocol %u.%02u is too old: this step needs %u.%02u or later\n"
		    "  (Linux 3.8 on), whose xloadflags promise a 64-bit entry point",
		    path, version >> 8, version & 0xff, PROTOCOL_MIN >> 8, PROTOCOL_MIN & 0xff);
	if (!(k[HDR_LOADFLAGS] & LOADED_HIGH))
		die(2, "%s: loadflags has no LOADED_HIGH: a zImage, loaded below 1 MiB;\n"
		    "  this step loads only a bzImage", path);
	if (!(get_le(k + HDR_XLOADFLAGS, 2) & XLF_KERNEL_64))
		die(2, "%s: xloadflags has no XLF_KERNEL_64: this kernel has no 64-bit\n"
		    "  entry point (a 32-bit kernel?)", path);
}

/* Where the kernel goes and how much room it needs: pref_address (a
 * relocatable kernel could go at any multiple of kernel_alignment; its
 * preferred address is one, so we need not choose), init_size bytes
 * from there, all inside RAM. The file must hold all that setup_sects
 * and syssize promise: less is a truncated file. */
static void bzimage_place(struct boot_files *bf, const char *path, uint64_t mem_size)
{
	const uint8_t *k = bf->kernel;
	unsigned sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
	uint64_t payload = (uint64_t)get_le(k + HDR_SYSSIZE, 4) * 16;
	uint32_t align = get_le(k + HDR_KERNEL_ALIGN, 4);

	bf->setup_size = (sects + 1) * 512;
	if (bf->kernel_size < bf->setup_size + payload)
		die(2, "%s: truncated: the setup header promises %llu bytes (setup %zu +\n"
		    "  kernel %llu), the file has %zu", path,
		    (unsigned long long)(bf->setup_size + payload), bf->setup_size,
		    (unsigned long long)payload, bf->kernel_size);
	bf->load_addr = (uint64_t)get_le(k + HDR_PREF_ADDRESS + 4, 4) << 32 |
			get_le(k + HDR_PREF_ADDRESS, 4);
	bf->init_size = get_le(k + HDR_INIT_SIZE, 4);
	if (bf->init_size < bf->kernel_size - bf->setup_size)
		bf->init_size = bf->kernel_size - bf->setup_size;
	if (bf->load_addr < GUEST_HIGH_RAM || (align && bf->load_addr % align))
		die(2, "%s: pref_address 0x%llx is below 1 MiB or not aligned to kernel_alignment\n"
		    "  0x%x", path, (unsigned long long)bf->load_addr, align);
	if (bf->load_addr + bf->init_size > mem_size)
		die(2, "%s: the kernel needs RAM to 0x%llx (pref_address 0x%llx + init_size\n"
		    "  0x%llx), more than --memory gives", path,
		    (unsigned long long)(bf->load_addr + bf->init_size),
		    (unsigned long long)bf->load_addr, (unsigned long long)bf->init_size);
}
/* end listing: setup-header */

/* The command line: ours, then "shell" for --shell, then --append's,
 * no longer than the kernel's cmdline_size says it takes (it would cut
 * it short without a word), nor than our room for it below 0x9fc00. */
static void boot_build_cmdline(struct boot_files *bf, const struct options *opt)
{
	uint32_t max = get_le(bf->kernel + HDR_CMDLINE_SIZE, 4);
	size_t room = GUEST_LOW_RAM_END - GUEST_CMDLINE_ADDR - 1;
	size_t length;

	if (asprintf(&bf->cmdline, "%s%s%s%s", BASE_CMDLINE, opt->shell ? " shell" : "",
		     opt->append ? " " : "", opt->append ? opt->append : "") < 0)
		die(2, "no memory for the command line");
	length = strlen(bf->cmdline);
	if (length > max || length > room)
		die(2, "the kernel command line is too long: %zu bytes, and this kernel's\n"
		    "  cmdline_size is %u (the setup header's limit, without the final NUL)",
		    length, length > max ? max : (unsigned)room);
}

/* listing: initrd-place */
/* Where the initramfs goes: as high as it may, page-aligned, below the
 * end of RAM and initrd_addr_max (the highest address its last byte
 * may have), and above the kernel's init_size, which the kernel
 * overwrites as it decompresses itself. */
static void initrd_place(struct boot_files *bf, uint64_t mem_size)
{
	uint64_t top = (uint64_t)get_le(bf->kernel + HDR_INITRD_ADDR_MAX, 4) + 1;
	uint64_t kernel_end = bf->load_addr + bf->init_size;

	if (top > mem_size)
		top = mem_size;
	if (bf->initrd_size > top || ((top - bf->initrd_size) & ~0xfffULL) < kernel_end)
		die(2, "the initramfs does not fit: %zu KiB, and the RAM from the kernel's end\n"
		    "  (0x%llx) to 0x%llx leaves %llu KiB. Give more --memory (now %llu MiB)",
		    bf->initrd_size >> 10, (unsigned long long)kernel_end,
		    (unsigned long long)top,
		    (unsigned long long)(top > kernel_end ? (top - kernel_end) >> 10 : 0),
		    (unsigned long long)(mem_size >> 20));
	bf->initrd_addr = (top - bf->initrd_size) & ~0xfffULL;
}
/* end listing: initrd-place */

/* listing: boot-files */
/* Read and check the kernel and the initramfs, and place them, before
 * there is a VM: whatever is wrong with them is status 2 and a message
 * that says which, even on a machine without KVM. */
static void boot_files_read(struct boot_files *bf, const struct options *opt)
{
	uint64_t mem_size = (uint64_t)opt->memory_mib << 20;

	bf->kernel = file_read_all(opt->kernel_path, "kernel", &bf->kernel_size, mem_size,
				   "larger than the guest's memory");
	bzimage_check_kind(opt->kernel_path, bf->kernel, bf->kernel_size);
	bzimage_check_protocol(opt->kernel_path, bf->kernel);
	bzimage_place(bf, opt->kernel_path, mem_size);
	boot_build_cmdline(bf, opt);
	bf->initrd = file_read_all(opt->initrd_path, "initramfs", &bf->initrd_size, mem_size,
				   "larger than the guest's memory: give more --memory");
	initrd_place(bf, mem_size);
}
/* end listing: boot-files */

/* ------------------------------------------------------------------ */
/* The zero page: struct boot_params                                   */

/* listing: e820 */
/*
 * The e820 map: what a PC's BIOS tells the OS about its memory (int
 * 0x15, eax 0xe820), here put in the zero page by us. Each entry is 20
 * bytes: start (8), size (8), type (4): 1 usable RAM, 2 reserved. The
 * zero page holds up to 128 at 0x2d0, their count at 0x1e8.
 *
 *   0x000000 - 0x09fbff  RAM       (the zero page, the tables and the
 *                                   command line live here: Linux reads
 *                                   them before it uses this RAM)
 *   0x09fc00 - 0x0fffff  reserved  (a PC's EBDA, VGA memory and BIOS:
 *                                   Linux looks there for tables, and
 *                                   must not put its own data there)
 *   0x100000 - RAM's end RAM
 */
#define ZP_E820_ENTRIES     0x1e8
#define ZP_E820_TABLE       0x2d0
#define E820_RAM            1
#define E820_RESERVED       2

static void zero_page_add_e820(uint8_t *zp, uint64_t start, uint64_t end, uint32_t type)
{
	uint8_t *e = zp + ZP_E820_TABLE + zp[ZP_E820_ENTRIES]++ * 20;

	put_le(e, 8, start);
	put_le(e + 8, 8, end - start);
	put_le(e + 16, 4, type);
}
/* end listing: e820 */

/* listing: zero-page */
/* Fill the zero page: zeros, then a copy of the kernel's setup header
 * (from 0x1f1 to its end, 0x202 + the byte at 0x201), then what the
 * loader must say: who it is (type_of_loader), where the kernel went
 * (code32_start), the initramfs, the command line, and the e820 map.
 * Everything else stays 0: no video mode, no EFI, no ACPI tables. */
static void guest_build_zero_page(struct vm *vm, const struct boot_files *bf)
{
	uint8_t *zp = vm->mem + GUEST_ZERO_PAGE;
	size_t header_end = HDR_MAGIC + bf->kernel[HDR_JUMP + 1];

	memset(zp, 0, 4096);
	if (header_end > bf->setup_size)
		header_end = bf->setup_size;
	memcpy(zp + HDR_SETUP_SECTS, bf->kernel + HDR_SETUP_SECTS, header_end - HDR_SETUP_SECTS);
	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	put_le(zp + HDR_CODE32_START, 4, bf->load_addr);
	put_le(zp + HDR_RAMDISK_IMAGE, 4, bf->initrd_addr);
	put_le(zp + HDR_RAMDISK_SIZE, 4, bf->initrd_size);
	put_le(zp + HDR_CMD_LINE_PTR, 4, GUEST_CMDLINE_ADDR);
	zero_page_add_e820(zp, 0, GUEST_LOW_RAM_END, E820_RAM);
	zero_page_add_e820(zp, GUEST_LOW_RAM_END, GUEST_HIGH_RAM, E820_RESERVED);
	zero_page_add_e820(zp, GUEST_HIGH_RAM, vm->mem_size, E820_RAM);
}
/* end listing: zero-page */

/* listing: load-linux */
/* Copy the protected-mode kernel (the bzImage less its setup sectors)
 * to its load address, the initramfs to the top of RAM, the command
 * line below 640 KiB; then the zero page that points at them. */
static void guest_load_linux(struct vm *vm, const struct boot_files *bf)
{
	memcpy(vm->mem + bf->load_addr, bf->kernel + bf->setup_size,
	       bf->kernel_size - bf->setup_size);
	memcpy(vm->mem + bf->initrd_addr, bf->initrd, bf->initrd_size);
	memcpy(vm->mem + GUEST_CMDLINE_ADDR, bf->cmdline, strlen(bf->cmdline) + 1);
	guest_build_zero_page(vm, bf);
}
/* end listing: load-linux */

/* ------------------------------------------------------------------ */
/* The vCPU as Linux wants it: CPUID and MSRs                          */

/* listing: cpuid */
/*
 * CPUID is how Linux learns what the processor can do. Inside a VM, KVM
 * answers it from a table we give the vCPU (KVM_SET_CPUID2); without
 * one, the vCPU reports almost nothing, and Linux would not even find
 * long mode. KVM_GET_SUPPORTED_CPUID gives the table KVM can honour:
 * the host CPU's features less what KVM cannot virtualize, plus KVM's
 * own leaves, 0x40000000 ("KVMKVMKVM\0\0\0" in EBX, ECX, EDX) and
 * 0x40000001 (its paravirtual features, kvm-clock among them). To that
 * we add the hypervisor bit, CPUID.1:ECX[31], which real processors
 * leave 0: only with it does Linux look at the 0x40000000 leaves, find
 * KVM, and take kvm-clock as its clock. Without it Linux calibrates the
 * TSC against the PIT, which fails or takes seconds in a VM.
 */
#define CPUID_HYPERVISOR    (1u << 31)
#define KVM_SIGNATURE_LEAF  0x40000000

/* KVM_GET_SUPPORTED_CPUID, with room for as many entries as KVM has:
 * it fails with E2BIG while the table we pass is too small. */
static struct kvm_cpuid2 *kvm_supported_cpuid(struct vm *vm)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			die(2, "no memory for the CPUID table");
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		if (errno != E2BIG)
			die(2, "KVM_GET_SUPPORTED_CPUID failed: %s\n  See dmesg.", strerror(errno));
		free(c);
	}
	die(2, "KVM_GET_SUPPORTED_CPUID wants more than 4096 entries");
}

/* Give the vCPU KVM's table with the hypervisor bit set, and check that
 * KVM's signature leaf is there (a KVM without it would leave Linux to
 * calibrate the TSC by itself: slow, and wrong in a VM). */
static void vcpu_setup_cpuid(struct vm *vm)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vm);
	int signature = 0;

	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			e->ecx |= CPUID_HYPERVISOR;
		if (e->function == KVM_SIGNATURE_LEAF)
			signature = e->ebx == get_le((const uint8_t *)"KVMK", 4);
	}
	if (!signature)
		fprintf(stderr, "%s: warning: KVM_GET_SUPPORTED_CPUID has no \"KVMKVMKVM\" leaf at\n"
			"  0x%x: Linux will not find kvm-clock, and boots slower\n",
			program, KVM_SIGNATURE_LEAF);
	kvm_ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c, "KVM_SET_CPUID2",
		  "KVM refused its own supported table; see dmesg.");
	free(c);
}
/* end listing: cpuid */

/* listing: msrs */
/* Model-specific registers: KVM resets most to what a CPU has at power-
 * on, which suits Linux. One we set, as a BIOS does: IA32_MISC_ENABLE's
 * bit 0, fast strings, which lets rep movs and rep stos move whole
 * cache lines (Linux warns on Intel when the firmware left it off). A
 * KVM may refuse an MSR it does not emulate: KVM_SET_MSRS returns how
 * many it set, and we say so rather than stop, since Linux does without. */
#define MSR_IA32_MISC_ENABLE   0x1a0
#define MISC_ENABLE_FAST_STRING (1ull << 0)

static void vcpu_setup_msrs(struct vm *vm)
{
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + sizeof(msrs->entries[0]));

	if (!msrs)
		die(2, "no memory for the MSRs");
	msrs->nmsrs = 1;
	msrs->entries[0].index = MSR_IA32_MISC_ENABLE;
	msrs->entries[0].data = MISC_ENABLE_FAST_STRING;
	if (kvm_ioctl(vm->vcpu_fd, KVM_SET_MSRS, msrs, "KVM_SET_MSRS", "See dmesg.") != 1)
		fprintf(stderr, "%s: note: this KVM did not take IA32_MISC_ENABLE (fast strings)\n",
			program);
	free(msrs);
}
/* end listing: msrs */

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
		if (tr.physical_address >= vm->mem_size) {
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
/* The console: Linux's output, line by line                           */

/* listing: console */
/* Seconds since the program started, for the timeline. */
static double timeline_now(void)
{
	struct timespec now;
	double t;

	clock_gettime(CLOCK_MONOTONIC, &now);
	t = (double)(now.tv_sec - timeline.start.tv_sec) +
	    (double)(now.tv_nsec - timeline.start.tv_nsec) / 1e9;
	return t > 0 ? t : 1e-9;        /* 0 means "not reached" */
}

/* The line just ended (console.line, its NUL written): kept among the
 * last CONSOLE_LINES, and looked at for the milestones (the first
 * "Linux version", our /init's marker) and for a panic. */
static void console_line(void)
{
	const char *line = console.line;

	memcpy(console.last[console.lines++ % CONSOLE_LINES], line, CONSOLE_LINE_MAX);
	if (!timeline.linux_version && strstr(line, "Linux version"))
		timeline.linux_version = timeline_now();
	if (!timeline.init_marker && strstr(line, INIT_MARKER))
		timeline.init_marker = timeline_now();
	if (!console.panic && strstr(line, "Kernel panic")) {
		console.panic = 1;
		memcpy(console.panic_line, line, CONSOLE_LINE_MAX);
	}
}

/* One byte the guest sent through the UART (uart_transmit): to standard
 * output, and into the line being written (\r dropped: Linux's serial
 * console ends its lines with \r\n). */
static void console_byte(uint8_t byte)
{
	fputc(byte, stdout);
	if (!timeline.first_byte)
		timeline.first_byte = timeline_now();
	if (byte == '\n') {
		console.line[console.length] = '\0';
		console_line();
		console.length = 0;
	} else if (byte != '\r' && console.length < CONSOLE_LINE_MAX - 1) {
		console.line[console.length++] = byte;
	}
}

/* The console's last lines, on stderr: what a failed boot said last. */
static void console_show_last(void)
{
	unsigned n = console.lines < 12 ? console.lines : 12;

	fprintf(stderr, "%s: the console's last lines:\n", program);
	for (unsigned i = console.lines - n; i < console.lines; i++)
		fprintf(stderr, "  | %s\n", console.last[i % CONSOLE_LINES]);
	if (console.length)
		fprintf(stderr, "  | %.*s\n", (int)console.length, console.line);
	if (!console.lines && !console.length)
		fprintf(stderr, "  (nothing: the kernel never wrote to ttyS0)\n");
}
/* end listing: console */

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

/* THR: the guest sends a byte. It leaves at once: to the console (our
 * standard output), or in loopback to the UART's own receiver. THR is empty again
 * right away, which is an event ("THR empty") IIR reports. */
static void uart_transmit(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP)
		uart_receive(u, byte);
	else
		console_byte(byte);
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
/* The CMOS clock and the keyboard controller                          */

/* listing: cmos */
/*
 * The CMOS, a PC's battery-backed clock (the MC146818 RTC) and 128
 * bytes of RAM, at two ports: write a register's index to 0x70 (bit 7
 * masks NMIs: dropped here), then read or write it at 0x71. Linux reads
 * the date at boot, and waits while register A's bit 7, UIP ("update
 * in progress"), is 1: a CMOS that read 0xff there would stall it for
 * seconds. Ours reads the host's clock, in BCD, 24-hour mode:
 *
 *  index  0x00 seconds  0x02 minutes  0x04 hours  0x06 weekday (1 = Sunday)
 *         0x07 day      0x08 month    0x09 year (2 digits)  0x32 century
 *  0x0a   A: UIP 0, divider 010 (32.768 kHz), rate 0110  = 0x26
 *  0x0b   B: 24-hour (bit 1), BCD (bit 2 clear), no interrupts  = 0x02
 *  0x0c   C: no interrupt flags   0x0d  D: VRT, the battery is good = 0x80
 *
 * The rest is RAM, kept as written. Writes to the clock are ignored:
 * the guest cannot set the host's time.
 */
#define CMOS_REG_A          0x0a
#define CMOS_REG_B          0x0b
#define CMOS_REG_C          0x0c
#define CMOS_REG_D          0x0d
#define CMOS_CENTURY        0x32

static uint8_t bcd(int value)
{
	return (uint8_t)((value / 10) << 4 | value % 10);
}

/* The clock's registers, from the host's time (UTC). */
static uint8_t cmos_clock(uint8_t index)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (index) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return bcd(tm.tm_wday + 1);
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case CMOS_CENTURY: return bcd(19 + tm.tm_year / 100);
	case CMOS_REG_A: return 0x26;
	case CMOS_REG_B: return 0x02;
	case CMOS_REG_C: return 0x00;
	case CMOS_REG_D: return 0x80;
	default: return 0;              /* the alarm: never set */
	}
}

/* Whether an index is one of the clock's (else it is plain RAM). */
static int cmos_is_clock(uint8_t index)
{
	return index <= CMOS_REG_D || index == CMOS_CENTURY;
}

static uint64_t cmos_read(struct vm *vm, uint64_t offset, unsigned size)
{
	struct cmos *c = &vm->cmos;

	(void)size;
	if (offset == 0)
		return 0xff;                    /* the index port is write-only */
	return cmos_is_clock(c->index) ? cmos_clock(c->index) : c->ram[c->index];
}

static void cmos_write(struct vm *vm, uint64_t offset, unsigned size, uint64_t value)
{
	struct cmos *c = &vm->cmos;

	(void)size;
	if (offset == 0)
		c->index = value & 0x7f;        /* bit 7: the NMI mask */
	else if (!cmos_is_clock(c->index))
		c->ram[c->index] = value;
}
/* end listing: cmos */

/* The CMOS's ports by name, for --trace. */
static const char *cmos_register_name(struct vm *vm, uint64_t offset, int is_write)
{
	(void)is_write;
	if (offset == 0)
		return "index";
	return cmos_is_clock(vm->cmos.index) ? "clock" : "RAM";
}

/* listing: power-off */
/*
 * How Linux leaves this machine. It has no ACPI, so no power button:
 * - poweroff: Linux finds no way to cut the power, says "reboot: Power
 *   down", and the init process that asked exits: a panic, "Attempted to
 *   kill init!". So our /init uses halt instead:
 * - halt (-f): "reboot: System halted", then the CPU stops in hlt with
 *   interrupts off. With the interrupt controllers in the kernel that
 *   hlt never reaches us: the input thread's kick finds the vCPU halted
 *   with IF 0 (step 9's vcpu_halted_for_good), for good. Our power-off.
 * - reboot (-f), and a panic with panic=-1: Linux resets the machine,
 *   first through ACPI (there is none), then as PCs always could: by
 *   writing 0xfe to the keyboard controller's command port, 0x64, which
 *   pulses the CPU's reset line. We stop there, as Firecracker does: a
 *   VM that reboots has ended its run. Before writing, Linux waits until
 *   the controller's status (port 0x64, read) says its input buffer is
 *   empty (bit 1 clear). So a read of the status gives what an empty bus
 *   gives, 0xff, less that bit: 0xfd. There is no keyboard behind it:
 *   Linux's i8042 driver, probing, finds "a byte waiting" (bit 0) on and
 *   on, reads 0xff from the data port (0x60, unclaimed) 16 times, and
 *   decides there is no controller; a status of 0 would have it wait
 *   for answers, seconds.
 * - reboot=t on the command line: a triple fault, KVM_EXIT_SHUTDOWN.
 */
#define KBC_RESET           0xfe

static uint64_t kbc_read(struct vm *vm, uint64_t offset, unsigned size)
{
	(void)vm;
	(void)offset;
	(void)size;
	return 0xfd;                    /* status: input buffer empty (bit 1 clear) */
}

static void kbc_write(struct vm *vm, uint64_t offset, unsigned size, uint64_t value)
{
	(void)offset;
	(void)size;
	if ((value & 0xff) == KBC_RESET)
		vm->reset = 1;
}
/* end listing: power-off */

static const char *kbc_register_name(struct vm *vm, uint64_t offset, int is_write)
{
	(void)vm;
	(void)offset;
	return is_write ? "command" : "status";
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

/* listing: device-table */
/* Every device of the machine. A new device is a new line. */
static const struct device devices[] = {
	{ "uart", BUS_PORT, COM1_BASE, COM1_PORTS,
	  uart_read, uart_write, uart_register_name },
	{ "cmos", BUS_PORT, CMOS_BASE, CMOS_PORTS,
	  cmos_read, cmos_write, cmos_register_name },
	{ "kbc", BUS_PORT, KBC_COMMAND, 1,
	  kbc_read, kbc_write, kbc_register_name },
};
/* end listing: device-table */

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
		    "  which step 10 needs. Run it in the lab: make lab CMD=./step10");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0)
		die(77, "this KVM has no in-kernel timer (KVM_CAP_PIT2), which step 10\n"
		    "  needs. Run it in the lab: make lab CMD=./step10");
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

/* listing: input-room */
/* How many bytes the receive FIFO can take now: none until the guest
 * raises DTR (data terminal ready: a serial line's other end sends
 * nothing before) and asks for receive interrupts (IER's RDI: Linux
 * sets DTR for its console early in the boot, but empties the FIFO
 * when the port is opened, and asks for the interrupt only then; a
 * byte sent before would be lost), none in loopback (the receiver
 * hears the UART's own transmitter) nor after the input ended. Waits up to KICK_MS for
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
		if (u->input_closed || !(u->mcr & MCR_DTR) || !(u->ier & IER_RDI) ||
		    (u->mcr & MCR_LOOP))
			room = 0;
		if (room > 0 || vm->stop_input ||
		    pthread_cond_timedwait(&vm->uart_room, &vm->uart_lock, &until))
			break;
	}
	pthread_mutex_unlock(&vm->uart_lock);
	return room;
}
/* end listing: input-room */

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

/* listing: unclaimed */
/* An access no device claims. On a PC nothing answers most ports and
 * addresses, and Linux expects that: it probes for hardware (a second
 * UART, a floppy, a PS/2 mouse, PCI's config ports) by reading, and a
 * bus with nothing on it reads as all ones. So do we: a read gets 0xff
 * bytes, a write is dropped, and Linux finds nothing there. (Steps 4 to
 * 9 stopped the guest instead: their guests were ours, and an access
 * nobody answers was a bug in them.) --trace shows each one. */
static void unclaimed_access(uint8_t *data, size_t bytes, int is_write)
{
	if (!is_write)
		memset(data, 0xff, bytes);
}
/* end listing: unclaimed */

/* KVM_EXIT_IO: the guest executed in or out (or a string version of
 * them, count times). The bytes live in the kvm_run page at data_offset:
 * for "out" the guest's bytes to consume, for "in" the place to put our
 * answer, which KVM hands to the guest when we call KVM_RUN again. The
 * device table says who answers; no one, unclaimed_access. */
static void vcpu_handle_io(struct vm *vm)
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
	if (!d) {
		unclaimed_access(data, bytes, is_write);
		return;
	}
	for (uint32_t i = 0; i < run->io.count; i++)
		device_access(vm, d, run->io.port, run->io.size, is_write,
			      data + (size_t)i * run->io.size);
}

/* KVM_EXIT_MMIO: the guest read or wrote len bytes (1 to 8) at a
 * physical address where there is no RAM. This machine has no device
 * there (the APICs are KVM's, in the kernel): unclaimed_access. */
static void vcpu_handle_mmio(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	size_t len = run->mmio.len <= sizeof(run->mmio.data) ? run->mmio.len : 0;

	unclaimed_access(run->mmio.data, len, run->mmio.is_write);
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

/* How the run ended, for main() to judge: the guest halted for good
 * (Linux's power-off), reset the machine (a reboot, or a panic's),
 * Ctrl-A x, or anything else. */
enum run_end { RUN_HALTED, RUN_RESET, RUN_QUIT, RUN_FAILED };

/* listing: shutdown-linux */
/* KVM_EXIT_SHUTDOWN: a triple fault. Linux does that on purpose only
 * with reboot=t; else its own exception handling failed (early in the
 * boot, before its IDT, any fault does it), or our page tables, GDT or
 * zero page were wrong. The console's last lines tell how far it got. */
static void explain_shutdown(struct vm *vm)
{
	fprintf(stderr, "  a triple fault: an exception the kernel could not handle, nor the\n"
		"  double fault it raised. %s\n",
		timeline.first_byte ? "Linux had started (it wrote to the console): see its last\n"
		"  lines below, and try --append earlyprintk=serial,ttyS0."
		: "Linux never wrote a byte: it faulted early, in its\n"
		"  entry or decompressor: check the page tables, the GDT and the zero page.");
	guest_show_code(vm, stderr);
}
/* end listing: shutdown-linux */

/* Say why the guest stopped when it was not Linux's own way out: which
 * exit, what KVM told us about it, the console's last lines, the
 * registers. */
static void explain_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;

	fflush(stdout);
	fprintf(stderr, "\n%s: the guest stopped: %s\n", program, exit_name(run->exit_reason));
	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		explain_shutdown(vm);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "  the CPU refused to enter the guest: hardware reason 0x%llx\n",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		explain_internal_error(vm);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		fprintf(stderr, "  system event type %u (1 shutdown, 2 reset, 3 crash)\n",
			run->system_event.type);
		break;
	default:
		fprintf(stderr, "  %s does not handle exit reason %u\n", program,
			run->exit_reason);
		guest_show_code(vm, stderr);
		break;
	}
	console_show_last();
	vcpu_dump(vm, stderr);
}

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
/* Run the vCPU until Linux halts for good, resets the machine, or
 * something we do not handle happens. Each pass: enter the guest; when
 * KVM_RUN returns, let the device table handle an I/O exit (an MMIO
 * exit finds no device: this machine has none), trace it, then judge.
 * The PIC's, the PIT's and the APICs' accesses, hlt and the interrupts
 * never come here: KVM handles them. KVM_RUN also returns EINTR for the
 * watchdog's signal and for the input thread's kick (Ctrl-A x; a halt
 * for good). */
static enum run_end vcpu_run_loop(struct vm *vm, const struct options *opt)
{
	timeline.first_run = timeline_now();
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && watchdog_fired) {
				fflush(stdout);
				fprintf(stderr, "\n%s: timeout: the guest was still running after %g s\n",
					program, opt->timeout);
				console_show_last();
				if (!timeline.first_byte)
					fprintf(stderr, "  Linux never reached its console: it hung in its decompressor or early\n"
						"  set-up, or this KVM runs guest kernel code slowly (kvm_pvm emulates each\n"
						"  instruction: there a boot takes many minutes; try --timeout 0).\n");
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
			vcpu_handle_io(vm);
		else if (vm->run->exit_reason == KVM_EXIT_MMIO)
			vcpu_handle_mmio(vm);
		/* The input thread traces too (KVM_IRQ_LINE): hold stderr's
		 * lock for our whole line, which takes several calls. */
		if (opt->trace) {
			flockfile(stderr);
			trace_exit(vm);
			funlockfile(stderr);
		}
		if (vm->reset)
			return RUN_RESET;
		if (vm->run->exit_reason != KVM_EXIT_IO && vm->run->exit_reason != KVM_EXIT_MMIO) {
			explain_exit(vm);
			return RUN_FAILED;
		}
	}
}
/* end listing: run-loop */

/* listing: timeline */
/* One milestone of the timeline: its time, or that it never came. */
static void timeline_print_one(double t, const char *what)
{
	if (t)
		fprintf(stderr, "  %8.3f s  %s\n", t, what);
	else
		fprintf(stderr, "  %10s  %s\n", "-", what);
}

/* The boot timeline, on stderr at the end, as Firecracker's boot timer
 * prints its own: each milestone in seconds since the program started
 * (loading the files and making the VM included). */
static void timeline_print(void)
{
	fflush(stdout);
	fprintf(stderr, "%s: boot timeline (seconds since %s started):\n", program, program);
	timeline_print_one(timeline.first_run, "first KVM_RUN");
	timeline_print_one(timeline.first_byte, "first console byte");
	timeline_print_one(timeline.linux_version, "\"Linux version\"");
	timeline_print_one(timeline.init_marker, "/init's marker (\"" INIT_MARKER "\")");
	timeline_print_one(timeline.end, timeline.end_what);
}
/* end listing: timeline */

/* listing: ending */
/* The run is over: say how, and give the status. A power-off or a
 * reboot is a success unless the console showed a panic first (with
 * panic=-1, a panic ends in a reboot). */
static int linux_ending(enum run_end end)
{
	fflush(stdout);
	if (end == RUN_QUIT) {
		fprintf(stderr, "\n%s: Ctrl-A x: quit, the guest still running\n", program);
		return 1;
	}
	if (end == RUN_FAILED)
		return 1;
	fprintf(stderr, "\n%s: %s\n", program, end == RUN_HALTED ?
		"Linux halted for good (hlt with interrupts off): powered off" :
		"Linux reset the machine (0xfe to the keyboard controller, port 0x64): a reboot");
	if (!console.panic)
		return 0;
	fprintf(stderr, "%s: the kernel panicked:\n  %s\n", program, console.panic_line);
	console_show_last();
	return 1;
}
/* end listing: ending */

int main(int argc, char **argv)
{
	struct options opt;
	struct boot_files bf = { 0 };
	struct vm vm = { 0 };
	enum run_end end;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &timeline.start);
	opt = parse_options(argc, argv);
	/* The UART's output is line-buffered, so that --trace lines (on
	 * stderr) fall between whole lines of output; but not buffered at
	 * all when you type to the guest (stdin a terminal): its echo of a
	 * key, and a shell's prompt, have no newline after them. */
	setvbuf(stdout, NULL, isatty(STDIN_FILENO) ? _IONBF : _IOLBF, 0);
	command_line = argv;    /* die_no_kvm repeats it for the lab */
	/* listing: main-setup */
	boot_files_read(&bf, &opt);
	vm.mem_size = (uint64_t)opt.memory_mib << 20;
	vm.kvm_fd = kvm_open();
	vm_create(&vm);
	vm_create_irqchip(&vm);
	vcpu_create(&vm);
	vcpu_setup_lapic(&vm);
	vcpu_setup_cpuid(&vm);
	vcpu_setup_msrs(&vm);
	guest_build_gdt(&vm);
	guest_build_page_tables(&vm);
	guest_load_linux(&vm, &bf);
	vcpu_setup_entry(&vm, &bf);
	/* end listing: main-setup */
	uart_reset(&vm.uart, STDIN_FILENO);
	pthread_mutex_init(&vm.uart_lock, NULL);
	pthread_cond_init(&vm.uart_room, NULL);
	vm.trace = opt.trace;
	fprintf(stderr, "%s: kernel %s: boot protocol %u.%02u, %zu KiB at 0x%llx (entry 0x%llx);\n"
		"  initramfs %zu KiB at 0x%llx; %lu MiB of RAM; command line: %s\n",
		program, opt.kernel_path, get_le(bf.kernel + HDR_VERSION, 2) >> 8,
		get_le(bf.kernel + HDR_VERSION, 2) & 0xff, (bf.kernel_size - bf.setup_size) >> 10,
		(unsigned long long)bf.load_addr, (unsigned long long)bf.load_addr + 0x200,
		bf.initrd_size >> 10, (unsigned long long)bf.initrd_addr, opt.memory_mib,
		bf.cmdline);
	if (opt.trace) {
		trace_mode(&vm, "start");
		trace_translate(&vm, bf.load_addr + 0x200);
	}

	/* In a terminal, keys go to the guest as they are typed, and nobody
	 * types on a timer: no watchdog unless asked (Ctrl-A x quits). */
	vm.raw_terminal = terminal_raw_mode();
	if (vm.raw_terminal && !opt.timeout_set)
		opt.timeout = 0;
	if (vm.raw_terminal)
		fprintf(stderr, "%s: your keys go to the guest; Ctrl-A x quits\n", program);
	input_start(&vm);
	watchdog_start(&vm, opt.timeout);
	end = vcpu_run_loop(&vm, &opt);
	timeline.end = timeline_now();
	timeline.end_what = end == RUN_HALTED ? "power-off (halted for good)" :
			    end == RUN_RESET ? "reboot (keyboard controller reset)" :
			    end == RUN_QUIT ? "Ctrl-A x" : "stopped (see above)";
	input_stop(&vm);
	terminal_restore();
	status = linux_ending(end);
	timeline_print();
	free(bf.kernel);
	free(bf.initrd);
	free(bf.cmdline);
	return status;
}
