/*
 * step11.c: a gdb stub. Step 7's long-mode machine, with a debugger
 * attached: ./step11 --gdb waits for gdb on a TCP port and speaks its
 * remote serial protocol, so that the learner can break in the guest's
 * code, step it, read its memory and change its registers, as with any
 * program (gdb's manual, "Remote Protocol", is the reference).
 *
 * KVM, step by step, chapter 11. Build and run:
 *
 *     make step11 && ./step11          the guest alone, as in step 7
 *     make gdb-step11                  ./step11 --gdb and a gdb with the
 *                                      guest's symbols, stopped at its
 *                                      first instruction
 *     ./step11 --gdb 1234 --trace-gdb  ... and every packet, both ways
 *     ./step11 --guest FILE            a 64-bit flat binary or ELF file of yours
 *
 * What KVM gives a debugger: KVM_SET_GUEST_DEBUG (single-step, hardware
 * breakpoints in the debug registers DR0-DR3 and DR7, and int3 caught by
 * the host: KVM_EXIT_DEBUG), KVM_GET_REGS and KVM_SET_REGS, and
 * KVM_TRANSLATE, which walks the guest's page tables for us. Not every
 * KVM does all of it: the stub tries each kind of breakpoint on a scratch
 * VM first, and uses the best one that this KVM really stops at, down to
 * the one that works everywhere: a HLT instruction written over the
 * breakpoint's first byte (see gdb_probe_breakpoints and vcpu_run_gdb).
 *
 * Exit status: 0 the guest halted and the checks passed; 1 the guest
 * ended any other way; 2 usage or host setup error (a bad port, a port
 * in use); 3 the gdb session ended before the guest did (gdb never
 * connected, went away, or killed the guest); 77 this host's KVM cannot
 * run the step.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The number of elements of an array (not of a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Guest-physical memory, 2 MiB of RAM at address 0. The page tables map
 * it twice: at virtual 0 (identity: virtual = physical) and at virtual
 * 0xffffffff80000000, the high half.
 *
 *   0x000000 +--------------------------+
 *            | (unused)                 |
 *   0x000400 | result: the guest's 42   |
 *   0x000500 | GDT: 3 descriptors       | <- GDTR
 *            |                          |
 *   0x001000 +--------------------------+ <- RIP
 *            | guest code and data      |
 *            |            ...           |
 *   0x100000 +--------------------------+ <- CR3
 *            | PML4                     |
 *   0x101000 | PDPT for the low half    |
 *   0x102000 | PDPT for the high half   |
 *   0x103000 | PD: one 2 MiB page       |
 *   0x104000 +--------------------------+
 *            | stack, growing down      |
 *   0x200000 +--------------------------+ <- RSP
 */
#define GUEST_MEM_SIZE     0x200000
#define GUEST_RESULT_ADDR  0x400
#define GUEST_GDT_ADDR     0x500
#define GUEST_LOAD_ADDR    0x1000
#define GUEST_PML4_ADDR    0x100000
#define GUEST_PDPT_LOW     0x101000
#define GUEST_PDPT_HIGH    0x102000
#define GUEST_PD_ADDR      0x103000
#define GUEST_TABLES       4         /* PML4, two PDPTs, PD: 0x100000-0x103fff */
#define GUEST_STACK_TOP    0x200000
#define GUEST_EXPECTED     42

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
#define PTE_A              (1ull << 5) /* accessed: set by the CPU */
#define PTE_D              (1ull << 6) /* dirty: set by the CPU */
#define PTE_PS             (1ull << 7) /* page size: in a PD, a 2 MiB page */

/* The guest's console: the Bochs/QEMU debug port. Bytes written to it are
 * printed; reading it returns 0xE9, which tells the guest it is there. */
#define CONSOLE_PORT       0xe9

#define DEFAULT_DEVICE     "/dev/kvm"
#define DEFAULT_TIMEOUT    10.0   /* seconds; --timeout 0 turns it off */
#define GDB_DEFAULT_PORT   1234   /* gdb's usual port for "target remote" */

/* The embedded guest: guest/debug.c compiled -m64 (see guest/embed.S);
 * its ELF file with the symbols, for gdb, is build/guest/debug64.elf. */
extern const unsigned char guest_debug64[], guest_debug64_end[];

static const char *program = "step11";

/* The kinds of breakpoint the stub knows, best first (see
 * gdb_probe_breakpoints): the debug registers, int3 caught by KVM, and a
 * hlt written over the instruction, which works on every KVM. */
enum gdb_layer { GDB_LAYER_AUTO, GDB_LAYER_HW, GDB_LAYER_INT3, GDB_LAYER_HLT };

/* What the command line asked for. */
struct options {
	const char *guest_path; /* --guest FILE, or NULL: the embedded guest */
	int trace;              /* --trace: print the mode and every VM exit */
	double timeout;         /* --timeout SECONDS: 0 means no watchdog */
	int gdb;                /* --gdb: wait for gdb before the guest runs */
	unsigned int gdb_port;  /* --gdb PORT: where (0: any free port) */
	int trace_gdb;          /* --trace-gdb: print every packet, both ways */
	enum gdb_layer layer;   /* --breakpoints: a layer, or GDB_LAYER_AUTO */
};

/* The VM and its one vCPU: file descriptors and the memory we share. */
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
	uint64_t host_tables[GUEST_TABLES][512]; /* the page tables as the host built them */
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
		"usage: %s [--gdb [PORT]] [--trace-gdb] [--breakpoints hw|int3|hlt] [--trace]\n"
		"       [--guest FILE] [--timeout SECONDS] [--help]\n"
		"\n"
		"Runs a 64-bit long-mode guest that prints \"Hello, world!\" through port\n"
		"0x%x, stores %d at guest address 0x%x and halts with %d in RAX, as\n"
		"step 7's does; with --gdb, under the control of a gdb.\n"
		"\n"
		"  --gdb [PORT]       before the guest runs, wait for gdb on 127.0.0.1:PORT\n"
		"                     (default %u; 0 = any free port, which is printed) and\n"
		"                     let it drive: in gdb, target remote :PORT. The guest's\n"
		"                     symbols are in build/guest/debug64.elf\n"
		"  --trace-gdb        print every packet of the gdb protocol, both ways\n"
		"                     (on stderr)\n"
		"  --breakpoints KIND use this kind of breakpoint rather than the best this\n"
		"                     KVM supports: hw (debug registers), int3 (KVM catches\n"
		"                     the guest's int3) or hlt (a hlt written over the code)\n"
		"  --trace            print the mode at start and end, the page table\n"
		"                     translations, and every VM exit (on stderr)\n"
		"  --guest FILE       run a flat 64-bit binary instead, loaded at 0x%x\n"
		"                     (CS = 0x%02x, DS = SS = 0x%02x, RSP = 0x%x), or a 64-bit\n"
		"                     ELF file (ELFCLASS64, EM_X86_64): its segments at their\n"
		"                     physical addresses, clear of the GDT, the page tables\n"
		"                     and the stack's last page, started at its entry (a\n"
		"                     mapped address: low 2 MiB or high half)\n"
		"  --timeout SECONDS  stop a guest still running after this long, or, with\n"
		"                     --gdb, give up on a gdb that has not connected by then\n"
		"                     (default %g, 0 = never); a guest under gdb has none\n"
		"  --help             this text\n"
		"\n"
		"The device is %s, or $KVM_DEVICE if set.\n"
		"Exit status: 0 halted and checked, 1 the guest failed, 2 usage or\n"
		"host setup error, 3 the gdb session ended before the guest did (gdb\n"
		"never connected, went away or killed the guest), 77 this host's KVM\n"
		"cannot run this step.\n",
		program, CONSOLE_PORT, GUEST_EXPECTED, GUEST_RESULT_ADDR, GUEST_EXPECTED,
		GDB_DEFAULT_PORT, GUEST_LOAD_ADDR, GDT_CODE, GDT_DATA, GUEST_STACK_TOP,
		DEFAULT_TIMEOUT, DEFAULT_DEVICE);
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

/* Parse a TCP port for --gdb: 0 (any free port) to 65535. */
static unsigned int parse_port(const char *text)
{
	char *end;
	unsigned long port;

	errno = 0;
	port = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || text[0] == '+' || port > 65535)
		die(2, "--gdb wants a TCP port from 0 to 65535 (0: any free one), not \"%s\"",
		    text);
	return (unsigned int)port;
}

/* Parse --breakpoints: the kind of breakpoint to use, by name. */
static enum gdb_layer parse_layer(const char *text)
{
	if (!strcmp(text, "hw"))
		return GDB_LAYER_HW;
	if (!strcmp(text, "int3"))
		return GDB_LAYER_INT3;
	if (!strcmp(text, "hlt"))
		return GDB_LAYER_HLT;
	die(2, "--breakpoints wants hw, int3 or hlt, not \"%s\"", text);
}

/* Read the command line into struct options; bad input is status 2.
 * --gdb's port is optional: a next word that is no option is the port. */
static struct options parse_options(int argc, char **argv)
{
	struct options opt = { .timeout = DEFAULT_TIMEOUT, .gdb_port = GDB_DEFAULT_PORT };

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(arg, "--trace")) {
			opt.trace = 1;
		} else if (!strcmp(arg, "--trace-gdb")) {
			opt.trace_gdb = 1;
		} else if (!strcmp(arg, "--gdb")) {
			opt.gdb = 1;
			if (i + 1 < argc && argv[i + 1][0] != '-')
				opt.gdb_port = parse_port(argv[++i]);
		} else if (!strncmp(arg, "--gdb=", 6)) {
			opt.gdb = 1;
			opt.gdb_port = parse_port(arg + 6);
		} else if (!strcmp(arg, "--guest") || !strcmp(arg, "--timeout") ||
			   !strcmp(arg, "--breakpoints")) {
			if (i + 1 >= argc)
				die(2, "%s needs a value (see --help)", arg);
			if (!strcmp(arg, "--guest"))
				opt.guest_path = argv[++i];
			else if (!strcmp(arg, "--timeout"))
				opt.timeout = parse_seconds(argv[++i]);
			else
				opt.layer = parse_layer(argv[++i]);
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
 * Map the 2 MiB of RAM at virtual 0 and again at the high half. A 48-bit
 * virtual address is cut into four indexes and an offset:
 *
 *  47       39 38       30 29       21 20                       0
 * +-----------+-----------+-----------+--------------------------+
 * |PML4 index |PDPT index | PD index  |  offset in the 2 MiB page|
 * +-----------+-----------+-----------+--------------------------+
 *
 * 0x0000000000001000: PML4[0]   -> PDPT_LOW[0]    -> PD[0] -> page 0
 * 0xffffffff80001000: PML4[511] -> PDPT_HIGH[510] -> PD[0] -> page 0
 *
 * Both paths end in the same PD entry: one 2 MiB page at physical 0
 * (PS=1), so there is no fourth level, no page table. Bits 63:48 of a
 * virtual address must copy bit 47 ("canonical"), hence the ffff.
 */
static void guest_build_page_tables(struct vm *vm, int high_half)
{
	table_set(vm, GUEST_PD_ADDR, 0, pte(0, PTE_P | PTE_W | PTE_PS));
	table_set(vm, GUEST_PDPT_LOW, 0, pte(GUEST_PD_ADDR, PTE_P | PTE_W));
	table_set(vm, GUEST_PML4_ADDR, 0, pte(GUEST_PDPT_LOW, PTE_P | PTE_W));
	if (!high_half)
		return;
	table_set(vm, GUEST_PDPT_HIGH, (GUEST_HIGH_HALF >> 30) & 511,
		  pte(GUEST_PD_ADDR, PTE_P | PTE_W));
	table_set(vm, GUEST_PML4_ADDR, (GUEST_HIGH_HALF >> 39) & 511,
		  pte(GUEST_PDPT_HIGH, PTE_P | PTE_W));
}

/* Put the vCPU in 64-bit long mode, all in one KVM_SET_SREGS: paging on
 * with CR3 at the PML4, CR4.PAE, EFER.LME and LMA, and CS a 64-bit code
 * segment. RIP is the load address, RSP the top of memory. */
static void vcpu_setup_long_mode(struct vm *vm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", "See dmesg.");
	sregs.gdt.base = GUEST_GDT_ADDR;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
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
 * out of: the GDT, the four page tables and the stack's last page. The
 * entry { 0, 0, NULL } ends the table. */
static const struct guest_range host_ranges[] = {
	{ GUEST_GDT_ADDR, GUEST_GDT_ADDR + GDT_ENTRIES * 8, "the GDT" },
	{ GUEST_PML4_ADDR, GUEST_PD_ADDR + 0x1000, "the page tables" },
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
		size = guest_debug64_end - guest_debug64;
		memcpy(vm->mem + GUEST_LOAD_ADDR, guest_debug64, size);
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
 * them). The bytes live in the kvm_run page at data_offset: for "out" the
 * guest's bytes to consume, for "in" the place to put our answer, which
 * KVM hands to the guest when we call KVM_RUN again. Returns 0 when
 * handled, -1 for a port nobody answers. */
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
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		fprintf(stderr, "  %s %u bytes at 0x%llx", run->mmio.is_write ? "write" : "read",
			run->mmio.len, (unsigned long long)run->mmio.phys_addr);
	}
	fputc('\n', stderr);
}

/* Why the run ended, for main() to judge. */
enum run_end { RUN_HALTED, RUN_FAILED };

/* The first entry of the host's page tables that the guest changed, put
 * into buf as "changed entry N of the PML4 (at 0x...)"; NULL if none
 * did. The accessed and dirty bits do not count: the CPU sets them
 * itself as it walks the tables. */
static const char *guest_changed_tables(const struct vm *vm, char *buf, size_t size)
{
	static const char *const names[] = {
		"the PML4", "the low half's PDPT", "the high half's PDPT", "the PD",
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

	fprintf(stderr, "  a triple fault: the guest has no interrupt table (IDT), so its\n"
		"  first exception could not be delivered, nor the faults that\n"
		"  failure raised in turn (up to a double fault), and the CPU shut\n"
		"  down. In long mode the usual cause is a page fault.\n");
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

/* KVM_EXIT_MMIO: the guest read or wrote an address where we put no
 * memory. Say where, how many bytes and, for a write, which ones. */
static void explain_mmio(struct vm *vm)
{
	struct kvm_run *run = vm->run;

	fprintf(stderr, "  %s %u bytes at guest-physical 0x%llx: there is no memory there\n",
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

/* Run the vCPU until the guest halts or does something we do not handle.
 * Each pass: enter the guest, and when KVM_RUN returns, look at
 * run->exit_reason to see why. After each exit handled, remember where
 * the guest was (vcpu_remember), for a KVM that resets it on shutdown. */
static enum run_end vcpu_run_loop(struct vm *vm, const struct options *opt)
{
	vcpu_remember(vm, 0);
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && watchdog_fired) {
				fflush(stdout);
				fprintf(stderr, "%s: timeout: the guest was still running after %g s\n",
					program, opt->timeout);
				guest_show_code(vm, stderr);
				timeout_advice(vm);
				vcpu_dump(vm, stderr);
				return RUN_FAILED;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die(2, "KVM_RUN failed: %s\n  See dmesg for what KVM reported.",
			    strerror(errno));
		}
		vm->exits++;
		if (opt->trace)
			trace_exit(vm);

		switch (vm->run->exit_reason) {
		case KVM_EXIT_HLT:
			return RUN_HALTED;
		case KVM_EXIT_IO:
			if (vcpu_handle_io(vm) == 0) {
				vcpu_remember(vm, 1);
				continue;
			}
			explain_exit(vm);
			return RUN_FAILED;
		default:
			explain_exit(vm);
			return RUN_FAILED;
		}
	}
}

/* The guest halted: check what it left behind, and that it halted in
 * 64-bit mode. (Step 11's guest stays in the low half, where its ELF
 * file's symbols are.) With a guest of the learner's own, the results
 * are only reported. */
static int guest_check(struct vm *vm, const struct options *opt)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t result;
	int high, long64;

	kvm_ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
	kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", "See dmesg.");
	memcpy(&result, vm->mem + GUEST_RESULT_ADDR, sizeof(uint32_t));
	result &= 0xffffffff;
	long64 = (sregs.efer & EFER_LMA) && sregs.cs.l;
	high = regs.rip >= GUEST_HIGH_HALF;
	fflush(stdout);
	printf("%s: the guest halted in %s, %s: RAX = %llu, memory[0x%x] = %llu\n",
	       program, long64 ? "64-bit mode" : "a mode that is not 64-bit",
	       high ? "in the high half" : "in the low half", regs.rax,
	       GUEST_RESULT_ADDR, (unsigned long long)result);
	if (opt->guest_path)
		return 0;
	if (regs.rax != GUEST_EXPECTED || result != GUEST_EXPECTED || !long64) {
		fprintf(stderr, "%s: wrong result: expected %d in both, in 64-bit mode\n",
			program, GUEST_EXPECTED);
		vcpu_dump(vm, stderr);
		return 1;
	}
	printf("%s: both are %d: the guest ran as it should\n", program, GUEST_EXPECTED);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The gdb stub: its state, and the kinds of breakpoint                */

#define GDB_MAX_PACKET     4096   /* PacketSize: the longest packet we take */
#define GDB_MAX_BREAKPOINTS 64
#define GDB_DETACHED       (-1)   /* gdb_session: gdb left, the guest runs on */
#define GDB_KEEP_GOING     (-2)   /* gdb_handle: wait for the next packet */
#define GDB_STATUS_SESSION 3      /* exit status: the session ended first */
#define GDB_HW_SLOTS       4      /* DR0 to DR3 */

#define X86_HLT            0xf4   /* the one-byte instructions we patch in */
#define X86_INT3           0xcc
#define X86_DB_VECTOR      1      /* #DB: single-step, debug registers */
#define X86_BP_VECTOR      3      /* #BP: int3 */
#define RFLAGS_RF          (1ull << 16) /* resume: skip this instruction's breakpoint once */

/* listing: dr7 */
/*
 * DR7, the debug control register: which of DR0-DR3 are armed, and for
 * what. An execute breakpoint is RW = 00 and LEN = 00 (one byte):
 *
 *  31  30 29  28 27  26 25  24 23  22 21  20 19  18 17  16 15  11 10  9  8  7  6  5  4  3  2  1  0
 * +------+------+------+------+------+------+------+------+------+--+--+--+--+--+--+--+--+--+--+--+
 * | LEN3 | RW3  | LEN2 | RW2  | LEN1 | RW1  | LEN0 | RW0  |  0   |1 |GE|LE|G3|L3|G2|L2|G1|L1|G0|L0|
 * +------+------+------+------+------+------+------+------+------+--+--+--+--+--+--+--+--+--+--+--+
 *
 * Ln (bit 2n) arms DRn for this task; Gn for every task. We set Ln only.
 * DR6, the status register, says which one fired: bit n (Bn) for DRn,
 * bit 14 (BS) for a single-step.
 */
#define DR7_LOCAL_ENABLE(n) (1ull << (2 * (n)))
#define DR6_HIT_MASK        0xfull
/* end listing: dr7 */

/* What each breakpoint layer is called, in messages. */
static const char *const layer_names[] = {
	[GDB_LAYER_AUTO] = "the best this KVM supports",
	[GDB_LAYER_HW] = "hardware debug registers (DR0-DR3, DR7)",
	[GDB_LAYER_INT3] = "int3 caught by KVM (KVM_GUESTDBG_USE_SW_BP)",
	[GDB_LAYER_HLT] = "hlt (0xf4) written over the code",
};

/* One breakpoint gdb asked for (Z0 or Z1), and how we set it. */
struct gdb_breakpoint {
	int used;
	int type;               /* 0: Z0 (software), 1: Z1 (hardware) */
	uint64_t addr;          /* the guest-virtual address gdb gave */
	uint64_t phys;          /* its guest-physical address (patched layers) */
	enum gdb_layer how;     /* GDB_LAYER_HW, _INT3 or _HLT */
	int slot;               /* GDB_LAYER_HW: which of DR0-DR3 */
	uint8_t saved;          /* _INT3, _HLT: the byte the patch replaced */
};

/* Why the vCPU stopped running under gdb (vcpu_run_gdb). */
enum gdb_stop {
	GDB_STOP_STEP,          /* one instruction done (single-step) */
	GDB_STOP_BREAK,         /* a breakpoint of ours */
	GDB_STOP_INTERRUPT,     /* gdb sent Ctrl-C (0x03) */
	GDB_STOP_HALTED,        /* the guest's own hlt: its end */
	GDB_STOP_FAILED,        /* any other end, explained on stderr */
	GDB_STOP_NONE,          /* (gdb_poll_input: nothing for us) */
};

/* The stub: the connection, what this KVM can do, the breakpoints, and
 * the buffers of the protocol. One gdb, one vCPU. */
struct gdb {
	struct vm *vm;
	const struct options *opt;
	int fd;                 /* the TCP connection to gdb */
	int no_ack;             /* QStartNoAckMode: no more + and - */
	int works[4];           /* per enum gdb_layer: the probe saw it stop */
	int can_step;           /* the probe saw KVM_GUESTDBG_SINGLESTEP work */
	int has_debug;          /* KVM_CAP_SET_GUEST_DEBUG */
	enum gdb_layer layer;   /* the layer Z0 uses */
	const char *stop_reply; /* the last stop, for '?' */
	struct gdb_breakpoint bp[GDB_MAX_BREAKPOINTS];
	uint8_t in[GDB_MAX_PACKET];        /* bytes received, not yet read */
	size_t in_pos, in_len;
	char packet[GDB_MAX_PACKET + 1];   /* the packet read, NUL-ended */
	size_t packet_len;
	char reply[GDB_MAX_PACKET + 1];    /* the reply being built */
	char frame[GDB_MAX_PACKET + 8];    /* $reply#xx, as sent */
};

/* ------------------------------------------------------------------ */
/* Which breakpoints work on this KVM: probes on a scratch VM          */

/* A scratch VM like the guest's (long mode, the same tables) with a few
 * bytes of code at the load address, for one probe. */
static void gdb_probe_vm_create(struct vm *probe, int kvm_fd, const uint8_t *code, size_t n)
{
	memset(probe, 0, sizeof(*probe));
	probe->kvm_fd = kvm_fd;
	vm_create(probe);
	vcpu_create(probe);
	guest_build_gdt(probe);
	guest_build_page_tables(probe, 1);
	vcpu_setup_long_mode(probe);
	memcpy(probe->mem + GUEST_LOAD_ADDR, code, n);
}

/* Free a scratch VM: its memory, its kvm_run area and its descriptors
 * (the VM goes when its last descriptor is closed). */
static void gdb_probe_vm_destroy(struct vm *probe)
{
	munmap(probe->run, probe->run_size);
	munmap(probe->mem, GUEST_MEM_SIZE);
	close(probe->vcpu_fd);
	close(probe->vm_fd);
}

/* Run code once on a scratch VM with the given debug control. Returns 1
 * and fills *exit (the kvm_run page's answer) and *rip, or 0 with the
 * reason in why. The code always ends in hlt: it cannot run away. */
static int gdb_probe_run(int kvm_fd, const uint8_t *code, size_t n,
		     const struct kvm_guest_debug *dbg, struct kvm_run *exit,
		     uint64_t *rip, char *why, size_t size)
{
	struct vm probe;
	struct kvm_regs regs;
	int ok = 0;

	gdb_probe_vm_create(&probe, kvm_fd, code, n);
	if (ioctl(probe.vcpu_fd, KVM_SET_GUEST_DEBUG, dbg) < 0)
		snprintf(why, size, "KVM_SET_GUEST_DEBUG refused it: %s", strerror(errno));
	else if (ioctl(probe.vcpu_fd, KVM_RUN, 0) < 0)
		snprintf(why, size, "KVM_RUN failed: %s", strerror(errno));
	else if (ioctl(probe.vcpu_fd, KVM_GET_REGS, &regs) < 0)
		snprintf(why, size, "KVM_GET_REGS failed: %s", strerror(errno));
	else
		ok = 1;
	if (ok) {
		*exit = *probe.run;
		*rip = regs.rip;
	}
	gdb_probe_vm_destroy(&probe);
	return ok;
}

/* Say why a probe did not stop where it should: the exit it got, and
 * where the guest was. */
static void gdb_probe_why(char *why, size_t size, const struct kvm_run *exit, uint64_t rip)
{
	if (exit->exit_reason == KVM_EXIT_HLT)
		snprintf(why, size, "the guest ran past it to its hlt (KVM_EXIT_HLT at RIP 0x%llx)",
			 (unsigned long long)rip);
	else
		snprintf(why, size, "%s at RIP 0x%llx instead of KVM_EXIT_DEBUG",
			 exit_name(exit->exit_reason), (unsigned long long)rip);
}

/* listing: probe-hw */
/* Probe the debug registers: DR0 set to the second nop of "nop; nop;
 * hlt". A KVM that honours them stops there with KVM_EXIT_DEBUG, DR6.B0
 * set; the lab's (QEMU's nested SVM) runs on to the hlt. */
static int gdb_probe_hw(int kvm_fd, char *why, size_t size)
{
	static const uint8_t code[] = { 0x90, 0x90, X86_HLT };
	struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP };
	struct kvm_run exit;
	uint64_t rip;

	dbg.arch.debugreg[0] = GUEST_LOAD_ADDR + 1;
	dbg.arch.debugreg[7] = DR7_LOCAL_ENABLE(0);
	if (!gdb_probe_run(kvm_fd, code, sizeof(code), &dbg, &exit, &rip, why, size))
		return 0;
	if (exit.exit_reason == KVM_EXIT_DEBUG && (exit.debug.arch.dr6 & 1) &&
	    rip == GUEST_LOAD_ADDR + 1)
		return 1;
	gdb_probe_why(why, size, &exit, rip);
	return 0;
}
/* end listing: probe-hw */

/* listing: probe-int3 */
/* Probe int3 with KVM_GUESTDBG_USE_SW_BP: "nop; int3; hlt". A KVM that
 * catches #BP for us stops with KVM_EXIT_DEBUG, exception 3; one that
 * lets it reach the guest, which has no IDT, sees a triple fault. */
static int gdb_probe_int3(int kvm_fd, char *why, size_t size)
{
	static const uint8_t code[] = { 0x90, X86_INT3, X86_HLT };
	struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP };
	struct kvm_run exit;
	uint64_t rip;

	if (!gdb_probe_run(kvm_fd, code, sizeof(code), &dbg, &exit, &rip, why, size))
		return 0;
	if (exit.exit_reason == KVM_EXIT_DEBUG && exit.debug.arch.exception == X86_BP_VECTOR)
		return 1;
	gdb_probe_why(why, size, &exit, rip);
	return 0;
}
/* end listing: probe-int3 */

/* Probe single-step: "nop; nop; hlt" with KVM_GUESTDBG_SINGLESTEP must
 * stop after the first nop, RIP one byte on, with KVM_EXIT_DEBUG. */
static int gdb_probe_step(int kvm_fd, char *why, size_t size)
{
	static const uint8_t code[] = { 0x90, 0x90, X86_HLT };
	struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
	struct kvm_run exit;
	uint64_t rip;

	if (!gdb_probe_run(kvm_fd, code, sizeof(code), &dbg, &exit, &rip, why, size))
		return 0;
	if (exit.exit_reason == KVM_EXIT_DEBUG && rip == GUEST_LOAD_ADDR + 1)
		return 1;
	gdb_probe_why(why, size, &exit, rip);
	return 0;
}

/* listing: probe-hlt */
/* Probe the hlt trick: "nop; hlt; hlt" must end in KVM_EXIT_HLT with
 * RIP just after the first hlt. Without an in-kernel irqchip every KVM
 * does this (hlt waits for an interrupt only userspace could send). */
static int gdb_probe_hlt(int kvm_fd, char *why, size_t size)
{
	static const uint8_t code[] = { 0x90, X86_HLT, X86_HLT };
	struct kvm_guest_debug dbg = { .control = 0 };
	struct kvm_run exit;
	uint64_t rip;

	if (!gdb_probe_run(kvm_fd, code, sizeof(code), &dbg, &exit, &rip, why, size))
		return 0;
	if (exit.exit_reason == KVM_EXIT_HLT && rip == GUEST_LOAD_ADDR + 2)
		return 1;
	snprintf(why, size, "%s at RIP 0x%llx instead of KVM_EXIT_HLT at 0x%x",
		 exit_name(exit.exit_reason), (unsigned long long)rip, GUEST_LOAD_ADDR + 2);
	return 0;
}
/* end listing: probe-hlt */

/* Pick the layer Z0 uses: --breakpoints', which must work here (else
 * status 77, with the probe's reason), or the best that works. */
static void gdb_choose_layer(struct gdb *g, char why[][160])
{
	enum gdb_layer want = g->opt->layer;

	if (want != GDB_LAYER_AUTO && !g->works[want])
		die(77, "--breakpoints %s: this KVM cannot: %s",
		    want == GDB_LAYER_HW ? "hw" : want == GDB_LAYER_INT3 ? "int3" : "hlt", why[want]);
	if (want == GDB_LAYER_AUTO)
		for (want = GDB_LAYER_HW; want < GDB_LAYER_HLT && !g->works[want]; want++)
			;
	if (!g->works[want])
		die(77, "this KVM stops the guest at no kind of breakpoint, not even a hlt: %s",
		    why[GDB_LAYER_HLT]);
	g->layer = want;
	fprintf(stderr, "%s: breakpoints: %s%s\n", program, layer_names[want],
		g->opt->layer == GDB_LAYER_AUTO ? ", the best that stops here" : " (--breakpoints)");
}

/* listing: probe */
/*
 * Which breakpoints this KVM really stops at. Asking is not enough: the
 * lab's KVM accepts KVM_GUESTDBG_USE_SW_BP and KVM_GUESTDBG_USE_HW_BP,
 * then lets the guest triple-fault on int3 (QEMU's nested SVM ignores
 * the #BP intercept) and never arms DR7. Only a run shows it, so each
 * kind is tried on a scratch VM of its own before gdb comes: a few
 * bytes of code and one KVM_RUN each, in a few milliseconds, and the
 * guest's VM is never touched. One line each on stderr says what it saw.
 */
static void gdb_probe_breakpoints(struct gdb *g)
{
	int kvm_fd = g->vm->kvm_fd;
	char why[4][160] = { "", "", "", "" }, step_why[160] = "";

	g->has_debug = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG) > 0;
	if (g->has_debug) {
		g->works[GDB_LAYER_HW] = gdb_probe_hw(kvm_fd, why[GDB_LAYER_HW], sizeof(why[0]));
		g->works[GDB_LAYER_INT3] = gdb_probe_int3(kvm_fd, why[GDB_LAYER_INT3], sizeof(why[0]));
		g->can_step = gdb_probe_step(kvm_fd, step_why, sizeof(step_why));
	} else {
		for (int i = GDB_LAYER_HW; i <= GDB_LAYER_INT3; i++)
			snprintf(why[i], sizeof(why[i]), "this KVM lacks KVM_CAP_SET_GUEST_DEBUG");
		snprintf(step_why, sizeof(step_why), "this KVM lacks KVM_CAP_SET_GUEST_DEBUG");
	}
	g->works[GDB_LAYER_HLT] = gdb_probe_hlt(kvm_fd, why[GDB_LAYER_HLT], sizeof(why[0]));
	fprintf(stderr, "%s: this KVM's breakpoints, tried on a scratch VM:\n", program);
	for (int i = GDB_LAYER_HW; i <= GDB_LAYER_HLT; i++)
		fprintf(stderr, "  %-45s %s%s\n", layer_names[i], g->works[i] ? "stops" : "no: ",
			why[i]);
	fprintf(stderr, "  %-45s %s%s\n", "single-step (KVM_GUESTDBG_SINGLESTEP)",
		g->can_step ? "works" : "no: ", step_why);
	gdb_choose_layer(g, why);
}
/* end listing: probe */

/* ------------------------------------------------------------------ */
/* Guest memory as gdb sees it: virtual addresses, through the tables  */

/* listing: guest-memory */
/* The guest-physical address of a guest-virtual one, through the
 * guest's own page tables (KVM_TRANSLATE walks them as its MMU would),
 * or -1 when nothing maps it or it is not our RAM. */
static int64_t guest_physical(struct vm *vm, uint64_t virt)
{
	struct kvm_translation tr = { .linear_address = virt };

	if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return -1;
	if (tr.physical_address >= GUEST_MEM_SIZE)
		return -1;
	return (int64_t)tr.physical_address;
}

/*
 * Copy len bytes between buf and guest-virtual memory at virt, a page at
 * a time: the pages that follow each other in virtual memory need not in
 * physical memory, so each page is translated on its own.
 *
 *   virtual   0x1ff8 ........ 0x2000 ................ 0x2010
 *             |  page 0x1000   |   page 0x2000          |
 *   physical  0x7ff8 ..0x8000   0x3000 ........ 0x3010     (any order)
 *
 * Returns the bytes copied: fewer than len if a page is not mapped.
 */
static size_t guest_copy(struct vm *vm, uint64_t virt, uint8_t *buf, size_t len, int write)
{
	size_t done = 0;

	while (done < len) {
		uint64_t at = virt + done;
		size_t chunk = 0x1000 - (at & 0xfff);
		int64_t phys = guest_physical(vm, at);

		if (phys < 0)
			break;
		if (chunk > len - done)
			chunk = len - done;
		if ((uint64_t)phys + chunk > GUEST_MEM_SIZE)
			chunk = GUEST_MEM_SIZE - phys;
		if (write)
			memcpy(vm->mem + phys, buf + done, chunk);
		else
			memcpy(buf + done, vm->mem + phys, chunk);
		done += chunk;
	}
	return done;
}
/* end listing: guest-memory */

/* ------------------------------------------------------------------ */
/* Breakpoints: a debug register, or a byte written over the code      */

/* The breakpoint patched (int3 or hlt) at this guest-physical address,
 * or NULL. */
static struct gdb_breakpoint *gdb_patched_at_phys(struct gdb *g, int64_t phys)
{
	for (int i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		if (g->bp[i].used && g->bp[i].how != GDB_LAYER_HW && (int64_t)g->bp[i].phys == phys)
			return &g->bp[i];
	return NULL;
}

/* The breakpoint patched at this guest-virtual address (found by its
 * physical address: an alias of the same byte is the same breakpoint). */
static struct gdb_breakpoint *gdb_patched_at(struct gdb *g, uint64_t virt)
{
	int64_t phys = guest_physical(g->vm, virt);

	return phys < 0 ? NULL : gdb_patched_at_phys(g, phys);
}

/* A free debug register (0 to 3), or -1 when all four are taken. */
static int gdb_free_slot(struct gdb *g)
{
	int taken = 0;

	for (int i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		if (g->bp[i].used && g->bp[i].how == GDB_LAYER_HW)
			taken |= 1 << g->bp[i].slot;
	for (int slot = 0; slot < GDB_HW_SLOTS; slot++)
		if (!(taken & (1 << slot)))
			return slot;
	return -1;
}

/* listing: patch */
/* Write the breakpoint's instruction (int3 or hlt) over the guest's byte,
 * keeping the byte. Two breakpoints on one byte share the kept byte. */
static void gdb_patch(struct gdb *g, struct gdb_breakpoint *bp)
{
	struct gdb_breakpoint *other = gdb_patched_at_phys(g, bp->phys);

	bp->saved = other ? other->saved : g->vm->mem[bp->phys];
	g->vm->mem[bp->phys] = bp->how == GDB_LAYER_INT3 ? X86_INT3 : X86_HLT;
}

/* Put the guest's byte back, unless another breakpoint still holds it. */
static void gdb_unpatch(struct gdb *g, struct gdb_breakpoint *bp)
{
	int used = bp->used;

	bp->used = 0;
	if (!gdb_patched_at_phys(g, bp->phys))
		g->vm->mem[bp->phys] = bp->saved;
	bp->used = used;
}
/* end listing: patch */

/* listing: insert */
/* The layer a new breakpoint uses: Z1 asks for the debug registers, which
 * it gets where they work; Z0 gets the stub's layer. Out of debug
 * registers, the best patched layer. */
static enum gdb_layer gdb_layer_for(struct gdb *g, int type)
{
	enum gdb_layer how = type == 1 && g->works[GDB_LAYER_HW] ? GDB_LAYER_HW : g->layer;

	if (how == GDB_LAYER_HW && gdb_free_slot(g) < 0)
		how = g->works[GDB_LAYER_INT3] ? GDB_LAYER_INT3 : GDB_LAYER_HLT;
	return how;
}

/* Z0 and Z1: set a breakpoint at a guest-virtual address. Returns the
 * reply: OK, E14 (not mapped) or E28 (the table is full). */
static const char *gdb_insert(struct gdb *g, int type, uint64_t addr)
{
	struct gdb_breakpoint *bp = NULL;
	int64_t phys;

	for (int i = 0; i < GDB_MAX_BREAKPOINTS; i++) {
		if (g->bp[i].used && g->bp[i].type == type && g->bp[i].addr == addr)
			return "OK";
		if (!g->bp[i].used && !bp)
			bp = &g->bp[i];
	}
	if (!bp)
		return "E28";
	phys = guest_physical(g->vm, addr);
	if (phys < 0)
		return "E14";
	*bp = (struct gdb_breakpoint){ .type = type, .addr = addr, .phys = phys,
				       .how = gdb_layer_for(g, type) };
	if (bp->how == GDB_LAYER_HW)
		bp->slot = gdb_free_slot(g);
	else
		gdb_patch(g, bp);
	bp->used = 1;
	return "OK";
}
/* end listing: insert */

/* z0 and z1: remove a breakpoint, putting the guest's byte back. A
 * breakpoint that is not there is removed already: OK. */
static const char *gdb_remove(struct gdb *g, int type, uint64_t addr)
{
	for (int i = 0; i < GDB_MAX_BREAKPOINTS; i++) {
		struct gdb_breakpoint *bp = &g->bp[i];

		if (!bp->used || bp->type != type || bp->addr != addr)
			continue;
		if (bp->how != GDB_LAYER_HW)
			gdb_unpatch(g, bp);
		bp->used = 0;
	}
	return "OK";
}

/* listing: read-memory */
/* Read guest memory for gdb: the guest's bytes, not our patches (gdb
 * must see the code it disassembles). Returns the bytes read. */
static size_t gdb_read_memory(struct gdb *g, uint64_t addr, uint8_t *buf, size_t len)
{
	size_t got = guest_copy(g->vm, addr, buf, len, 0);

	for (size_t i = 0; i < got; i++) {
		struct gdb_breakpoint *bp = gdb_patched_at(g, addr + i);

		if (bp)
			buf[i] = bp->saved;
	}
	return got;
}

/* Write guest memory for gdb. A byte under a patch is the breakpoint's
 * kept byte now: the patch stays. Returns the bytes written. */
static size_t gdb_write_memory(struct gdb *g, uint64_t addr, uint8_t *buf, size_t len)
{
	size_t done = guest_copy(g->vm, addr, buf, len, 1);

	for (size_t i = 0; i < done; i++) {
		struct gdb_breakpoint *bp = gdb_patched_at(g, addr + i);

		if (!bp)
			continue;
		for (int j = 0; j < GDB_MAX_BREAKPOINTS; j++)
			if (g->bp[j].used && g->bp[j].how != GDB_LAYER_HW && g->bp[j].phys == bp->phys)
				g->bp[j].saved = buf[i];
		g->vm->mem[bp->phys] = bp->how == GDB_LAYER_INT3 ? X86_INT3 : X86_HLT;
	}
	return done;
}
/* end listing: read-memory */

/* Remove every breakpoint (gdb detaches): the guest's bytes come back. */
static void gdb_remove_all(struct gdb *g)
{
	for (int i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		if (g->bp[i].used)
			gdb_remove(g, g->bp[i].type, g->bp[i].addr);
}

/* listing: set-debug */
/* Tell KVM what to catch on the next KVM_RUN: a single step, the debug
 * registers in use (DR7 as drawn above), int3. Nothing: control 0. */
static void gdb_set_debug(struct gdb *g, int step)
{
	struct kvm_guest_debug dbg = { 0 };

	for (int i = 0; i < GDB_MAX_BREAKPOINTS; i++) {
		struct gdb_breakpoint *bp = &g->bp[i];

		if (bp->used && bp->how == GDB_LAYER_HW) {
			dbg.arch.debugreg[bp->slot] = bp->addr;
			dbg.arch.debugreg[7] |= DR7_LOCAL_ENABLE(bp->slot);
			dbg.control |= KVM_GUESTDBG_USE_HW_BP;
		} else if (bp->used && bp->how == GDB_LAYER_INT3) {
			dbg.control |= KVM_GUESTDBG_USE_SW_BP;
		}
	}
	if (step)
		dbg.control |= KVM_GUESTDBG_SINGLESTEP;
	if (dbg.control)
		dbg.control |= KVM_GUESTDBG_ENABLE;
	if (dbg.control || g->has_debug)
		kvm_ioctl(g->vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg, "KVM_SET_GUEST_DEBUG",
			  "See dmesg.");
}
/* end listing: set-debug */

/* ------------------------------------------------------------------ */
/* Running the guest under gdb                                         */

/* listing: sigio */
/* gdb's bytes while the guest runs (Ctrl-C, or the connection closing)
 * must stop KVM_RUN. The socket is set to raise SIGIO at the vCPU's
 * thread when bytes arrive: the signal itself kicks the vCPU out of the
 * guest, and immediate_exit (set by the handler) covers a signal that
 * comes just before KVM_RUN. KVM_RUN then fails with EINTR. */
static struct kvm_run *gdb_run_area;

static void gdb_io_handler(int sig)
{
	(void)sig;
	gdb_run_area->immediate_exit = 1;
}

/* Arm SIGIO on the connection, sent to this thread, the vCPU's (F_SETOWN_EX
 * with F_OWNER_TID; the step has one thread, but say which it must be). */
static void gdb_io_arm(struct gdb *g)
{
	struct sigaction sa = { .sa_handler = gdb_io_handler, .sa_flags = SA_RESTART };
	struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid) };
	int flags = fcntl(g->fd, F_GETFL);

	gdb_run_area = g->vm->run;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGIO, &sa, NULL) < 0)
		die(2, "sigaction(SIGIO): %s", strerror(errno));
	if (fcntl(g->fd, F_SETOWN_EX, &owner) < 0 || flags < 0 ||
	    fcntl(g->fd, F_SETFL, flags | O_ASYNC) < 0)
		die(2, "fcntl on gdb's connection (O_ASYNC, F_SETOWN_EX): %s", strerror(errno));
}
/* end listing: sigio */

/* The session is over: no more SIGIO, and none left pending in
 * immediate_exit, which would stop the guest's next KVM_RUN at once. */
static void gdb_io_disarm(struct gdb *g)
{
	signal(SIGIO, SIG_IGN);
	close(g->fd);
	g->vm->run->immediate_exit = 0;
}

/* gdb is gone: say where the guest was, and end with status 3. The VM
 * goes with the process: nothing is left behind. */
static _Noreturn void gdb_gone(struct gdb *g, const char *when)
{
	struct kvm_regs regs;

	fflush(stdout);
	if (ioctl(g->vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
		regs.rip = ~0ULL;
	die(GDB_STATUS_SESSION, "gdb closed the connection (it quit or was killed) %s,\n"
	    "  at RIP 0x%llx: the guest is not run further", when, regs.rip);
}

/* listing: poll-input */
/* Take what gdb sent while the guest ran, without waiting: Ctrl-C (0x03)
 * is an interrupt; other bytes wait in g->in for the packet reader.
 * Returns GDB_STOP_INTERRUPT or GDB_STOP_NONE; gdb gone ends the step. */
static enum gdb_stop gdb_poll_input(struct gdb *g)
{
	struct pollfd p = { .fd = g->fd, .events = POLLIN };

	if (g->in_pos == g->in_len)
		g->in_pos = g->in_len = 0;
	while (g->in_len < sizeof(g->in) && poll(&p, 1, 0) > 0) {
		ssize_t n = recv(g->fd, g->in + g->in_len, sizeof(g->in) - g->in_len, 0);

		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			gdb_gone(g, "while the guest ran");
		for (ssize_t i = 0; i < n; i++) {
			if (g->in[g->in_len + i] != 0x03)
				continue;
			memmove(g->in + g->in_len + i, g->in + g->in_len + i + 1, n - i - 1);
			g->in_len += n - 1;
			if (g->opt->trace_gdb)
				fprintf(stderr, "[gdb] <- ^C (0x03, interrupt)\n");
			return GDB_STOP_INTERRUPT;
		}
		g->in_len += n > 0 ? n : 0;
	}
	return GDB_STOP_NONE;
}
/* end listing: poll-input */

/* listing: debug-exit */
/* KVM_EXIT_DEBUG: a single step (#DB, DR6.BS), a debug register (#DB,
 * DR6.Bn) or an int3 (#BP). After an int3 RIP may point past it on
 * some KVMs: it is put back on the breakpoint's byte. */
static enum gdb_stop gdb_debug_exit(struct gdb *g, int step)
{
	struct kvm_debug_exit_arch *d = &g->vm->run->debug.arch;
	struct kvm_regs regs;

	g->stop_reply = "T05";
	if (d->exception == X86_BP_VECTOR) {
		kvm_ioctl(g->vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
		if (!gdb_patched_at(g, regs.rip) && gdb_patched_at(g, regs.rip - 1)) {
			regs.rip--;
			kvm_ioctl(g->vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
		}
		g->stop_reply = "T05swbreak:;";
		return GDB_STOP_BREAK;
	}
	if (d->dr6 & DR6_HIT_MASK) {
		g->stop_reply = "T05hwbreak:;";
		return GDB_STOP_BREAK;
	}
	return step ? GDB_STOP_STEP : GDB_STOP_BREAK;
}
/* end listing: debug-exit */

/* listing: hlt-exit */
/*
 * KVM_EXIT_HLT: the guest's own end, or one of our breakpoints. This is
 * the layer that works on every KVM, because without an in-kernel
 * irqchip (none here, as in step 7) a hlt always comes back to us:
 *
 *   gdb: Z0,1025,1   we keep the byte at 0x1025 (48) and write f4 there
 *
 *   0x1025:  f4 83 ec 10         the guest's "sub $0x10,%rsp" begins
 *            ^^                  with a hlt now
 *
 *   KVM_EXIT_HLT, RIP = 0x1026: the byte before RIP is in our table,
 *   so it is our breakpoint: RIP goes back to 0x1025, gdb hears SIGTRAP.
 *   Any other hlt is the guest's own.
 *
 *   To go on from there (gdb_resume): 48 back, one single-step, f4 again.
 */
static enum gdb_stop gdb_hlt_exit(struct gdb *g)
{
	struct kvm_regs regs;
	struct gdb_breakpoint *bp;

	kvm_ioctl(g->vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
	bp = gdb_patched_at(g, regs.rip - 1);
	if (!bp || bp->how != GDB_LAYER_HLT)
		return GDB_STOP_HALTED;
	regs.rip--;
	kvm_ioctl(g->vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
	g->stop_reply = "T05swbreak:;";
	return GDB_STOP_BREAK;
}
/* end listing: hlt-exit */

/* listing: run-gdb */
/* Run the vCPU for gdb until something gdb must hear of: a step done, a
 * breakpoint, Ctrl-C, the guest's end. The console's port I/O is
 * answered on the way, as in step 7's run loop. */
static enum gdb_stop vcpu_run_gdb(struct gdb *g, int step)
{
	struct vm *vm = g->vm;
	enum gdb_stop stop;

	gdb_set_debug(g, step);
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN)
				die(2, "KVM_RUN failed: %s\n  See dmesg for what KVM reported.",
				    strerror(errno));
			vm->run->immediate_exit = 0;
			stop = gdb_poll_input(g);
			if (stop != GDB_STOP_NONE) {
				g->stop_reply = "T02";
				return stop;
			}
			continue;
		}
		vm->exits++;
		if (g->opt->trace)
			trace_exit(vm);
		switch (vm->run->exit_reason) {
		case KVM_EXIT_IO:
			if (vcpu_handle_io(vm) == 0)
				continue;
			explain_exit(vm);
			return GDB_STOP_FAILED;
		case KVM_EXIT_DEBUG:
			return gdb_debug_exit(g, step);
		case KVM_EXIT_HLT:
			return gdb_hlt_exit(g);
		default:
			explain_exit(vm);
			return GDB_STOP_FAILED;
		}
	}
}
/* end listing: run-gdb */

/* listing: resume */
/* c and s: go on from where the guest stopped. From a patched breakpoint,
 * first step over it with the guest's own byte back (the hlt trick's
 * second half); from a debug register's, with RFLAGS.RF set, which tells
 * the CPU to let this one instruction through. */
static enum gdb_stop gdb_resume(struct gdb *g, int step)
{
	struct kvm_regs regs;
	struct gdb_breakpoint *bp;
	enum gdb_stop stop;

	kvm_ioctl(g->vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
	bp = gdb_patched_at(g, regs.rip);
	if (bp && !g->can_step) {
		fprintf(stderr, "%s: cannot go on from the breakpoint at 0x%llx: this KVM cannot\n"
			"  single-step, which going past it needs: remove it first (delete)\n",
			program, regs.rip);
		return GDB_STOP_BREAK;
	}
	if (bp) {
		gdb_unpatch(g, bp);
		stop = vcpu_run_gdb(g, 1);
		gdb_patch(g, bp);
		if (step || stop != GDB_STOP_STEP)
			return stop;
	}
	for (int i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		if (g->bp[i].used && g->bp[i].how == GDB_LAYER_HW && g->bp[i].addr == regs.rip) {
			regs.rflags |= RFLAGS_RF;
			kvm_ioctl(g->vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
		}
	return vcpu_run_gdb(g, step);
}
/* end listing: resume */

/* ------------------------------------------------------------------ */
/* The remote serial protocol: packets, checksums, acknowledgements    */

/*
 * A packet on the wire, both ways:
 *
 *   $ m 1 0 c 0 , 4 # 5 b        '$', the data, '#', then the data's
 *                                checksum: the sum of its bytes modulo
 *                                256, in two hex digits
 *
 * The receiver answers '+' (good) or '-' (bad checksum: send it again),
 * until gdb and the stub agree on QStartNoAckMode. A lone 0x03 byte, no
 * packet, is Ctrl-C. Ours are never longer than PacketSize, which we
 * tell gdb in qSupported (GDB_MAX_PACKET).
 */

/* --trace-gdb: one line per packet, which way it went, bytes that are
 * not printable as \xNN. */
static void gdb_trace(const struct gdb *g, const char *dir, const char *data, size_t len)
{
	if (!g->opt->trace_gdb)
		return;
	fprintf(stderr, "[gdb] %s ", dir);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c >= 0x20 && c < 0x7f)
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('\n', stderr);
}

/* Send bytes to gdb, all of them; gdb gone ends the step. MSG_NOSIGNAL:
 * a closed connection is EPIPE, not a SIGPIPE that would kill us. */
static void gdb_write(struct gdb *g, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(g->fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			gdb_gone(g, "while we answered it");
		data += n;
		len -= n;
	}
}

/* The next byte from gdb, waiting for it; gdb gone ends the step. */
static int gdb_getc(struct gdb *g)
{
	if (g->in_pos == g->in_len) {
		ssize_t n;

		do
			n = recv(g->fd, g->in, sizeof(g->in), 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			gdb_gone(g, "while the guest was stopped");
		g->in_pos = 0;
		g->in_len = n;
	}
	return g->in[g->in_pos++];
}

/* The value of a hex digit, or -1. */
static int gdb_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* listing: send */
/* Send one packet and, in ack mode, wait for gdb's '+', sending it again
 * on '-' (a few times: then gdb is not listening, and we stop asking). */
static void gdb_send(struct gdb *g, const char *data)
{
	size_t len = strlen(data);
	unsigned char sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += (unsigned char)data[i];
	snprintf(g->frame, sizeof(g->frame), "$%s#%02x", data, sum);
	for (int tries = 0; tries < 5; tries++) {
		int c;

		gdb_trace(g, "->", g->frame, len + 4);
		gdb_write(g, g->frame, len + 4);
		if (g->no_ack)
			return;
		do
			c = gdb_getc(g);
		while (c != '+' && c != '-' && c != '$');
		gdb_trace(g, "<-", (char[]){ (char)c }, 1);
		if (c == '$')
			g->in_pos--;    /* a new packet: gdb took ours without a word */
		if (c != '-')
			return;
	}
}
/* end listing: send */

/* listing: read-packet */
/*
 * Read the next packet into g->packet: skip what comes before its '$'
 * (acks, a stray Ctrl-C), check its checksum (bad: '-', and read again),
 * acknowledge it. A packet longer than GDB_MAX_PACKET is read to its end
 * all the same, and its length returned with its data cut: the caller
 * refuses it. Returns the packet's length.
 */
static size_t gdb_read_packet(struct gdb *g)
{
	for (;;) {
		size_t len = 0, kept = 0;
		unsigned char sum = 0;
		int c, hi, lo;

		while ((c = gdb_getc(g)) != '$')
			;
		while ((c = gdb_getc(g)) != '#') {
			if (c == '$') {         /* a new start: drop the partial packet */
				len = kept = sum = 0;
				continue;
			}
			sum += (unsigned char)c;
			if (kept < GDB_MAX_PACKET)
				g->packet[kept++] = (char)c;
			len++;
		}
		g->packet[kept] = '\0';
		g->packet_len = kept;
		hi = gdb_hex_value(gdb_getc(g));
		lo = gdb_hex_value(gdb_getc(g));
		gdb_trace(g, "<-", g->packet, kept);
		if (hi >= 0 && lo >= 0 && (unsigned char)(hi << 4 | lo) == sum) {
			if (!g->no_ack)
				gdb_write(g, "+", 1);
			return len;
		}
		fprintf(stderr, "%s: gdb sent a packet with a bad checksum: %s\n", program,
			g->no_ack ? "dropped (no-ack mode)" : "answered '-'");
		if (!g->no_ack)
			gdb_write(g, "-", 1);
	}
}
/* end listing: read-packet */

/* ------------------------------------------------------------------ */
/* Registers: gdb's x86-64 numbering, and target.xml, which tells it    */

/* listing: registers */
/* The registers gdb gets, in its order for i386:x86-64 (the g packet's
 * order too), and where each lives: in struct kvm_regs, kvm_sregs (a
 * segment's selector) or kvm_fpu (the x87 unit), at offset, size bytes
 * of the bytes gdb wants (the rest are zeros), or nowhere (all zeros). */
enum gdb_reg_home { IN_REGS, IN_SREGS, IN_FPU, NOWHERE };

struct gdb_reg {
	const char *name;
	const char *type;       /* target.xml's type */
	int bytes;              /* its size for gdb */
	enum gdb_reg_home home;
	size_t offset, size;    /* where in its home, and how many bytes */
};

#define GPR(name, type) { #name, type, 8, IN_REGS, offsetof(struct kvm_regs, name), 8 }
#define SEG(name) { #name, "int32", 4, IN_SREGS, offsetof(struct kvm_sregs, name.selector), 2 }
#define ST(n) { "st" #n, "i387_ext", 10, IN_FPU, offsetof(struct kvm_fpu, fpr[n]), 10 }
#define FPU(name, field, size) { name, "int", 4, IN_FPU, offsetof(struct kvm_fpu, field), size }
static const struct gdb_reg gdb_regs[] = {
	GPR(rax, "int64"), GPR(rbx, "int64"), GPR(rcx, "int64"), GPR(rdx, "int64"),
	GPR(rsi, "int64"), GPR(rdi, "int64"), GPR(rbp, "data_ptr"), GPR(rsp, "data_ptr"),
	GPR(r8, "int64"), GPR(r9, "int64"), GPR(r10, "int64"), GPR(r11, "int64"),
	GPR(r12, "int64"), GPR(r13, "int64"), GPR(r14, "int64"), GPR(r15, "int64"),
	GPR(rip, "code_ptr"),
	{ "eflags", "int32", 4, IN_REGS, offsetof(struct kvm_regs, rflags), 4 },
	SEG(cs), SEG(ss), SEG(ds), SEG(es), SEG(fs), SEG(gs),
	/* gdb's x86-64 core also has the x87 unit: without it gdb rejects
	 * the description. Read from KVM_GET_FPU; writes are ignored. */
	ST(0), ST(1), ST(2), ST(3), ST(4), ST(5), ST(6), ST(7),
	FPU("fctrl", fcw, 2), FPU("fstat", fsw, 2), FPU("ftag", ftwx, 1),
	{ "fiseg", "int", 4, NOWHERE, 0, 0 }, FPU("fioff", last_ip, 4),
	{ "foseg", "int", 4, NOWHERE, 0, 0 }, FPU("fooff", last_dp, 4),
	FPU("fop", last_opcode, 2),
};
#undef GPR
#undef SEG
#undef ST
#undef FPU
/* end listing: registers */

/* The vCPU's registers, as KVM gives them, for gdb_reg_get and _set. */
struct gdb_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
};

/* target.xml, made from gdb_regs: the architecture and each register's
 * name, size and type. gdb asks for it with qXfer:features:read. */
static const char *gdb_target_xml(void)
{
	static char xml[4096];
	size_t used;

	if (xml[0])
		return xml;
	used = snprintf(xml, sizeof(xml),
			"<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
			"<target version=\"1.0\">\n<architecture>i386:x86-64</architecture>\n"
			"<feature name=\"org.gnu.gdb.i386.core\">\n");
	for (size_t i = 0; i < ARRAY_SIZE(gdb_regs); i++)
		used += snprintf(xml + used, sizeof(xml) - used,
				 "<reg name=\"%s\" bitsize=\"%d\" type=\"%s\"/>\n",
				 gdb_regs[i].name, gdb_regs[i].bytes * 8, gdb_regs[i].type);
	snprintf(xml + used, sizeof(xml) - used, "</feature>\n</target>\n");
	return xml;
}

/* Append bytes as hex, in memory order (x86 is little-endian, and so is
 * the g packet), to out; returns the end of out. */
static char *gdb_hex_put(char *out, const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out += sprintf(out, "%02x", bytes[i]);
	return out;
}

/* Read n bytes from hex text; returns the text after them, or NULL if it
 * holds fewer than n bytes of hex. */
static const char *gdb_hex_get(const char *in, uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++, in += 2) {
		int hi = gdb_hex_value(in[0]), lo = hi < 0 ? -1 : gdb_hex_value(in[1]);

		if (hi < 0 || lo < 0)
			return NULL;
		bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	return in;
}

/* Read the vCPU's registers, all three sets, from KVM. */
static void gdb_state_get(struct gdb *g, struct gdb_state *st)
{
	kvm_ioctl(g->vm->vcpu_fd, KVM_GET_REGS, &st->regs, "KVM_GET_REGS", "See dmesg.");
	kvm_ioctl(g->vm->vcpu_fd, KVM_GET_SREGS, &st->sregs, "KVM_GET_SREGS", "See dmesg.");
	kvm_ioctl(g->vm->vcpu_fd, KVM_GET_FPU, &st->fpu, "KVM_GET_FPU", "See dmesg.");
}

/* Where register n lives in st, or NULL for one that lives nowhere. */
static uint8_t *gdb_reg_at(struct gdb_state *st, size_t n)
{
	switch (gdb_regs[n].home) {
	case IN_REGS: return (uint8_t *)&st->regs + gdb_regs[n].offset;
	case IN_SREGS: return (uint8_t *)&st->sregs + gdb_regs[n].offset;
	case IN_FPU: return (uint8_t *)&st->fpu + gdb_regs[n].offset;
	default: return NULL;
	}
}

/* Register n as gdb wants it, in hex at out: its bytes, then zeros up to
 * gdb's size. Returns the end of out. */
static char *gdb_reg_get(struct gdb_state *st, size_t n, char *out)
{
	uint8_t value[16] = { 0 };
	uint8_t *at = gdb_reg_at(st, n);

	if (at)
		memcpy(value, at, gdb_regs[n].size);
	return gdb_hex_put(out, value, gdb_regs[n].bytes);
}

/* g: all registers, in gdb_regs' order, as hex. */
static void gdb_read_registers(struct gdb *g, char *out)
{
	struct gdb_state st;

	gdb_state_get(g, &st);
	for (size_t n = 0; n < ARRAY_SIZE(gdb_regs); n++)
		out = gdb_reg_get(&st, n, out);
	*out = '\0';
}

/* Write register n from hex, or count of them from n on (G: all). Only
 * kvm_regs' are written: a segment selector means nothing without its
 * descriptor, which gdb does not know, and the x87 unit is no part of
 * this course. Returns OK or E22 (bad hex). */
static const char *gdb_write_registers(struct gdb *g, const char *in, size_t first, size_t count)
{
	struct gdb_state st;

	gdb_state_get(g, &st);
	for (size_t n = first; n < first + count; n++) {
		uint8_t value[16];

		in = gdb_hex_get(in, value, gdb_regs[n].bytes);
		if (!in)
			return "E22";
		if (gdb_regs[n].home == IN_REGS)
			memcpy(gdb_reg_at(&st, n), value, gdb_regs[n].size);
	}
	if (*in)
		return "E22";
	kvm_ioctl(g->vm->vcpu_fd, KVM_SET_REGS, &st.regs, "KVM_SET_REGS", "See dmesg.");
	return "OK";
}

/* ------------------------------------------------------------------ */
/* The commands                                                        */

/* Parse "ADDR,LEN" (hex, as gdb sends them); returns the text after, or
 * NULL if it is not that. */
static const char *gdb_parse_addr_len(const char *in, uint64_t *addr, uint64_t *len)
{
	char *end;

	errno = 0;
	*addr = strtoull(in, &end, 16);
	if (errno || end == in || *end != ',')
		return NULL;
	in = end + 1;
	*len = strtoull(in, &end, 16);
	if (errno || end == in)
		return NULL;
	return end;
}

/* m ADDR,LEN: read guest memory. Fewer bytes than asked is a valid
 * answer; none at all (not mapped) is E14. */
static void gdb_cmd_read_memory(struct gdb *g, const char *args)
{
	uint8_t buf[GDB_MAX_PACKET / 2];
	uint64_t addr, len;
	const char *end = gdb_parse_addr_len(args, &addr, &len);
	size_t got;

	if (!end || *end) {
		strcpy(g->reply, "E22");
		return;
	}
	if (len > sizeof(buf))
		len = sizeof(buf);
	got = gdb_read_memory(g, addr, buf, len);
	if (got == 0 && len > 0)
		strcpy(g->reply, "E14");
	else
		*gdb_hex_put(g->reply, buf, got) = '\0';
}

/* M ADDR,LEN:HEX: write guest memory, all of it or E14. */
static void gdb_cmd_write_memory(struct gdb *g, const char *args)
{
	uint8_t buf[GDB_MAX_PACKET / 2];
	uint64_t addr, len;
	const char *end = gdb_parse_addr_len(args, &addr, &len);

	if (!end || *end != ':' || len > sizeof(buf) || strlen(end + 1) != 2 * len ||
	    !gdb_hex_get(end + 1, buf, len)) {
		strcpy(g->reply, "E22");
		return;
	}
	strcpy(g->reply, gdb_write_memory(g, addr, buf, len) == len ? "OK" : "E14");
}

/* p N: one register, by gdb's number. */
static void gdb_cmd_read_register(struct gdb *g, const char *args)
{
	char all[2 * 10 * ARRAY_SIZE(gdb_regs) + 1];
	char *end;
	unsigned long n = strtoul(args, &end, 16);
	size_t at = 0;

	if (end == args || *end || n >= ARRAY_SIZE(gdb_regs)) {
		strcpy(g->reply, "E22");
		return;
	}
	gdb_read_registers(g, all);
	for (size_t i = 0; i < n; i++)
		at += 2 * gdb_regs[i].bytes;
	snprintf(g->reply, sizeof(g->reply), "%.*s", 2 * gdb_regs[n].bytes, all + at);
}

/* P N=HEX: write one register. */
static void gdb_cmd_write_register(struct gdb *g, const char *args)
{
	char *end;
	unsigned long n = strtoul(args, &end, 16);

	if (end == args || *end != '=' || n >= ARRAY_SIZE(gdb_regs)) {
		strcpy(g->reply, "E22");
		return;
	}
	strcpy(g->reply, gdb_write_registers(g, end + 1, n, 1));
}

/* Z TYPE,ADDR,KIND and z: breakpoints 0 (software) and 1 (hardware);
 * watchpoints (2, 3, 4) are not supported: the empty reply says so. */
static void gdb_cmd_breakpoint(struct gdb *g, const char *packet)
{
	uint64_t addr, kind;
	int type = packet[1] - '0';
	const char *end;

	if ((type != 0 && type != 1) || packet[2] != ',') {
		g->reply[0] = '\0';
		return;
	}
	end = gdb_parse_addr_len(packet + 3, &addr, &kind);
	if (!end || *end) {
		strcpy(g->reply, "E22");
		return;
	}
	strcpy(g->reply, packet[0] == 'Z' ? gdb_insert(g, type, addr) : gdb_remove(g, type, addr));
}

/* qXfer:features:read:target.xml:OFFSET,LENGTH: a piece of target.xml,
 * 'm' before it when more follows, 'l' when it is the last. */
static void gdb_cmd_xfer(struct gdb *g, const char *args)
{
	const char *xml = gdb_target_xml();
	size_t size = strlen(xml);
	uint64_t offset, len;
	const char *end = gdb_parse_addr_len(args, &offset, &len);

	if (!end || *end) {
		strcpy(g->reply, "E22");
		return;
	}
	if (len > GDB_MAX_PACKET - 2)
		len = GDB_MAX_PACKET - 2;
	if (offset > size)
		offset = size;
	if (len > size - offset)
		len = size - offset;
	snprintf(g->reply, sizeof(g->reply), "%c%.*s", offset + len < size ? 'm' : 'l',
		 (int)len, xml + offset);
}

/* listing: query */
/* q and Q packets: what the stub supports, target.xml, no-ack mode, and
 * the thread questions (one thread, number 1). Unknown: empty reply. */
static void gdb_cmd_query(struct gdb *g, const char *p)
{
	g->reply[0] = '\0';
	if (!strncmp(p, "qSupported", 10))
		snprintf(g->reply, sizeof(g->reply), "PacketSize=%x;qXfer:features:read+;"
			 "QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+", GDB_MAX_PACKET);
	else if (!strncmp(p, "qXfer:features:read:target.xml:", 31))
		gdb_cmd_xfer(g, p + 31);
	else if (!strncmp(p, "qXfer:features:read:", 20))
		strcpy(g->reply, "E00");
	else if (!strcmp(p, "QStartNoAckMode"))
		strcpy(g->reply, "OK");
	else if (!strcmp(p, "qAttached"))
		strcpy(g->reply, "1");
	else if (!strcmp(p, "qfThreadInfo"))
		strcpy(g->reply, "m1");
	else if (!strcmp(p, "qsThreadInfo"))
		strcpy(g->reply, "l");
	else if (!strcmp(p, "qC"))
		strcpy(g->reply, "QC1");
}
/* end listing: query */

/* listing: report */
/* How a stop is told to gdb, and what the step does after it: a break,
 * a step or Ctrl-C is a stop reply; the guest's end is W (exited, with
 * RAX's low byte as the exit code) or X (killed by a signal), after
 * which the step ends too. Returns GDB_KEEP_GOING or the exit status. */
static int gdb_report(struct gdb *g, enum gdb_stop stop)
{
	struct kvm_regs regs;
	int status;

	if (stop != GDB_STOP_HALTED && stop != GDB_STOP_FAILED) {
		if (stop == GDB_STOP_STEP)
			g->stop_reply = "T05";
		strcpy(g->reply, g->stop_reply);
		return GDB_KEEP_GOING;
	}
	if (stop == GDB_STOP_FAILED) {
		gdb_send(g, "X0b");
		return 1;
	}
	if (g->opt->trace)
		trace_mode(g->vm, "end");
	status = guest_check(g->vm, g->opt);
	kvm_ioctl(g->vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
	snprintf(g->reply, sizeof(g->reply), "W%02x", (unsigned)(regs.rax & 0xff));
	gdb_send(g, g->reply);
	return status;
}
/* end listing: report */

/* D: gdb detaches. Every breakpoint goes, KVM stops watching, and the
 * guest runs on by itself (main, after gdb_session returns). */
static int gdb_cmd_detach(struct gdb *g)
{
	gdb_remove_all(g);
	gdb_set_debug(g, 0);
	gdb_send(g, "OK");
	fflush(stdout);
	fprintf(stderr, "%s: gdb detached: the guest runs on by itself\n", program);
	return GDB_DETACHED;
}

/* k and vKill: gdb kills the guest. There is nothing to clean: the
 * process ends, and the VM with it. */
static _Noreturn void gdb_cmd_kill(struct gdb *g, int reply)
{
	if (reply)
		gdb_send(g, "OK");
	die(GDB_STATUS_SESSION, "gdb killed the guest (%s): it is not run further",
	    reply ? "vKill" : "k");
}

/* c, s, vCont;c and vCont;s [ADDR]: set RIP if an address is given, run,
 * and report the stop. */
static int gdb_cmd_run(struct gdb *g, int step, const char *addr)
{
	if (*addr) {
		struct kvm_regs regs;

		kvm_ioctl(g->vm->vcpu_fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", "See dmesg.");
		regs.rip = strtoull(addr, NULL, 16);
		kvm_ioctl(g->vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", "See dmesg.");
	}
	return gdb_report(g, gdb_resume(g, step));
}

/* v packets: vCont? (which actions we take), vCont;ACTION[:THREAD]...
 * (one vCPU: the first action is ours), vKill. */
static int gdb_cmd_v(struct gdb *g, const char *p)
{
	if (!strcmp(p, "vCont?")) {
		strcpy(g->reply, "vCont;c;C;s;S");
	} else if (!strncmp(p, "vCont;", 6) && strchr("cCsS", p[6]) && p[6]) {
		return gdb_cmd_run(g, p[6] == 's' || p[6] == 'S', "");
	} else if (!strncmp(p, "vKill", 5)) {
		gdb_cmd_kill(g, 1);
	}
	return GDB_KEEP_GOING;
}

/* listing: handle */
/* One packet from gdb: answer it (into g->reply, sent by the caller).
 * Returns GDB_KEEP_GOING, GDB_DETACHED, or the exit status when the
 * guest ended. Unknown packets get the empty reply, as the protocol
 * says: gdb then knows we lack them. */
static int gdb_handle(struct gdb *g)
{
	const char *p = g->packet;

	g->reply[0] = '\0';
	switch (p[0]) {
	case '?': strcpy(g->reply, g->stop_reply); break;
	case 'g': gdb_read_registers(g, g->reply); break;
	case 'G': strcpy(g->reply, gdb_write_registers(g, p + 1, 0, ARRAY_SIZE(gdb_regs))); break;
	case 'p': gdb_cmd_read_register(g, p + 1); break;
	case 'P': gdb_cmd_write_register(g, p + 1); break;
	case 'm': gdb_cmd_read_memory(g, p + 1); break;
	case 'M': gdb_cmd_write_memory(g, p + 1); break;
	case 'Z': case 'z': gdb_cmd_breakpoint(g, p); break;
	case 'H': strcpy(g->reply, "OK"); break;
	case 'q': case 'Q': gdb_cmd_query(g, p); break;
	case 'c': return gdb_cmd_run(g, 0, p + 1);
	case 's': return gdb_cmd_run(g, 1, p + 1);
	case 'v': return gdb_cmd_v(g, p);
	case 'D': return gdb_cmd_detach(g);
	case 'k': gdb_cmd_kill(g, 0);
	}
	return GDB_KEEP_GOING;
}
/* end listing: handle */

/* ------------------------------------------------------------------ */
/* The session: listen, wait for gdb, then serve it                    */

/* Listen on 127.0.0.1:port (0: any free port), for one gdb. Each way
 * this fails has its message; all are status 2. Returns the socket and
 * sets *bound to the port it got. */
static int gdb_listen(unsigned int port, unsigned int *bound)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t size = sizeof(addr);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die(2, "cannot make a TCP socket for gdb: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EADDRINUSE)
			die(2, "port %u on 127.0.0.1 is in use: another program listens there\n"
			    "  (another step11, a gdbserver?). Choose another: --gdb PORT, or --gdb 0\n"
			    "  for any free port", port);
		die(2, "cannot listen on 127.0.0.1:%u: %s%s", port, strerror(errno),
		    errno == EACCES ? " (ports below 1024 are root's)" :
		    errno == EADDRNOTAVAIL ? "\n  Is the loopback interface down? (ip link set lo up)" : "");
	}
	if (listen(fd, 1) < 0 || getsockname(fd, (struct sockaddr *)&addr, &size) < 0)
		die(2, "cannot listen on 127.0.0.1:%u: %s%s", port, strerror(errno),
		    errno == EACCES ? " (ports below 1024 are root's)" : "");
	*bound = ntohs(addr.sin_port);
	return fd;
}

/* Wait for gdb to connect, at most --timeout seconds (0: for ever);
 * gdb that never comes is status 3. Returns the connection. */
static int gdb_accept(int listen_fd, double timeout)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };
	int ready, fd, one = 1;

	do
		ready = poll(&p, 1, timeout > 0 ? (int)(timeout * 1000) : -1);
	while (ready < 0 && errno == EINTR);
	if (ready == 0)
		die(GDB_STATUS_SESSION, "no gdb connected within %g s (--timeout): the guest never\n"
		    "  ran. Start gdb sooner, or wait for ever with --timeout 0", timeout);
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (ready < 0 || fd < 0)
		die(2, "waiting for gdb: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(listen_fd);
	return fd;
}

/* listing: session */
/*
 * The whole session: probe the breakpoints, wait for gdb, then answer
 * its packets one at a time until the guest ends (returns its exit
 * status) or gdb detaches (returns GDB_DETACHED). The guest waits at
 * its first instruction for gdb's first c or s.
 */
static int gdb_session(struct vm *vm, const struct options *opt)
{
	static struct gdb g;    /* static: 16 KiB of buffers */
	unsigned int port;
	int listen_fd, result;

	g = (struct gdb){ .vm = vm, .opt = opt, .stop_reply = "S05" };
	gdb_probe_breakpoints(&g);
	listen_fd = gdb_listen(opt->gdb_port, &port);
	fprintf(stderr, "%s: waiting for gdb on 127.0.0.1:%u: in gdb, target remote :%u\n"
		"  (gdb -q build/guest/debug64.elf -ex 'target remote :%u' has the guest's symbols)\n",
		program, port, port, port);
	g.fd = gdb_accept(listen_fd, opt->timeout);
	fprintf(stderr, "%s: gdb connected; the guest waits at its first instruction\n", program);
	gdb_io_arm(&g);
	for (;;) {
		if (gdb_read_packet(&g) > GDB_MAX_PACKET) {
			fprintf(stderr, "%s: gdb sent a packet longer than %d bytes (PacketSize): refused\n",
				program, GDB_MAX_PACKET);
			gdb_send(&g, "E01");
			continue;
		}
		result = gdb_handle(&g);
		if (result == GDB_KEEP_GOING) {
			gdb_send(&g, g.reply);
			if (!strcmp(g.packet, "QStartNoAckMode"))
				g.no_ack = 1;
			continue;
		}
		gdb_io_disarm(&g);
		return result;
	}
}
/* end listing: session */

int main(int argc, char **argv)
{
	struct options opt = parse_options(argc, argv);
	struct vm vm = { 0 };
	uint64_t entry;
	size_t size;

	/* The guest's console is line-buffered, as on a terminal, so that
	 * --trace lines (on stderr) fall between whole lines of output. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	command_line = argv;    /* die_no_kvm repeats it for the lab */
	vm.kvm_fd = kvm_open();
	vm_create(&vm);
	vcpu_create(&vm);
	guest_build_gdt(&vm);
	guest_build_page_tables(&vm, 1);
	memcpy(vm.host_tables, vm.mem + GUEST_PML4_ADDR, sizeof(vm.host_tables));
	size = guest_load(&vm, &opt, &entry);
	vcpu_setup_long_mode(&vm);
	vcpu_set_entry(&vm, entry);
	printf("%s: 64-bit long mode, 4-level page tables at 0x%x built by the host\n",
	       program, GUEST_PML4_ADDR);
	if (opt.trace) {
		fprintf(stderr, "[trace] %zu bytes of guest code at 0x%jx\n", size,
			(uintmax_t)entry);
		trace_mode(&vm, "start");
		trace_translate(&vm, GUEST_LOAD_ADDR);
		trace_translate(&vm, GUEST_HIGH_HALF + GUEST_LOAD_ADDR);
	}

	/* listing: main-gdb */
	/* With --gdb, gdb drives the guest until it ends, or until gdb
	 * detaches: then the guest runs on, as without it. */
	if (opt.gdb) {
		int status = gdb_session(&vm, &opt);

		if (status != GDB_DETACHED)
			return status;
	}
	/* end listing: main-gdb */
	watchdog_start(&vm, opt.timeout);
	if (vcpu_run_loop(&vm, &opt) != RUN_HALTED)
		return 1;
	if (opt.trace)
		trace_mode(&vm, "end");
	return guest_check(&vm, &opt);
}
