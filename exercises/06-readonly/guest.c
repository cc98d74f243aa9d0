/*
 * guest.c: the guest of exercise 06-readonly, 32-bit protected mode with
 * paging, linked for 0x1000 by guest/guest.ld.
 *
 * It installs an interrupt table (IDT) with a handler for page faults,
 * prints the host's note from 0x400000, then writes its reply into the
 * same page. When the host maps that page read-only (--note-readonly),
 * the write faults, and the handler reports where and why, stores 42 at
 * 0x400 and halts with 42 in EAX. Your work: the IDT entry and the
 * report (two TODO(06)).
 */
#include <stdint.h>

#define CONSOLE_PORT   0xe9        /* the Bochs/QEMU debug console */
#define NOTE_VADDR     0x400000    /* the host's note page */
#define REPLY_OFFSET   0x100       /* where in it the guest replies */
#define GDT_CODE       0x08        /* the host's 32-bit code segment */
#define PF_VECTOR      14          /* page fault, #PF */

/* Where the host looks for the 42: address 0x400 (see guest/guest.ld). */
extern volatile uint32_t guest_result;

/* The interrupt table: one 8-byte gate per vector; 32 covers the CPU's
 * exceptions. Entries left 0 are "not present". */
static uint64_t idt[32] __attribute__((aligned(8)));

/* One byte to the console port: one KVM_EXIT_IO. */
static void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

/* Print a string; print a number as 0x and eight hex digits. */
static void console_puts(const volatile char *s)
{
	while (*s)
		outb(CONSOLE_PORT, *s++);
}

static void console_puthex(uint32_t value)
{
	console_puts("0x");
	for (int shift = 28; shift >= 0; shift -= 4)
		outb(CONSOLE_PORT, "0123456789abcdef"[(value >> shift) & 0xf]);
}

/* CR2: the CPU leaves there the address whose access faulted. */
static uint32_t read_cr2(void)
{
	uint32_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	return cr2;
}

/* Stop for good with value in EAX: the host reads it after the HLT. */
static void __attribute__((noreturn)) halt_with(uint32_t value)
{
	for (;;)
		__asm__ volatile("hlt" : : "a"(value));
}

/* The page fault's way in. For #PF the CPU pushes EFLAGS, CS, EIP and an
 * error code, then jumps here: the stack pointer points at the error
 * code, EIP just above it. Pass that address to page_fault(), which
 * never returns (so there is no iret, and nothing to restore). */
extern char page_fault_entry[];
__asm__(".text\n"
	"page_fault_entry:\n"
	"	push %esp\n"
	"	call page_fault\n");

/*
 * A 32-bit interrupt gate: the handler's address (offset) in CS = GDT_CODE.
 *
 *  63                 48 47 46 45 44     40 39   32
 * +---------------------+--+-----+--------+-------+
 * |    offset 31:16     |P | DPL |0 1 1 1 0| 0     |
 * +---------------------+--+-----+--------+-------+
 *  31                 16 15                      0
 * +---------------------+-------------------------+
 * |   segment selector  |       offset 15:0       |
 * +---------------------+-------------------------+
 *
 * P: present. DPL: who may "int" to it (0: the kernel only). Type 01110
 * (0xe): a 32-bit interrupt gate, which also clears IF on the way in.
 */
static uint64_t idt_gate(uint32_t handler)
{
	/* TODO(06): build the gate drawn above. */
	(void)handler;
	return 0;
}

/* Called from page_fault_entry: frame[0] is the error code, frame[1] the
 * EIP of the instruction that faulted. Report it on the console as
 *   "page fault at 0x00400100, error code 0x3: a write to a present
 *    page, in kernel mode, at eip 0x000010ab"
 * (the faulting address from CR2; the error code's bit 0 P: 1 present
 * page, 0 not present; bit 1 W/R: 1 write, 0 read; bit 2 U/S: 1 user
 * mode, 0 kernel mode), then store 42 at 0x400 and halt with 42. */
void __attribute__((noreturn, used)) page_fault(const uint32_t *frame)
{
	/* TODO(06): the report and the 42s. */
	(void)frame;
	(void)read_cr2;
	(void)console_puthex;
	console_puts("page fault: not reported yet\n");
	halt_with(0xbad);
}

/* Point the CPU at the IDT, with the page fault's gate in it. */
static void idt_setup(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };

	idt[PF_VECTOR] = idt_gate((uint32_t)(uintptr_t)page_fault_entry);
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	idt_setup();
	console_puts("The host's note: ");
	console_puts((const volatile char *)NOTE_VADDR);
	console_puts("\nReplying in the same page...\n");
	*(volatile uint32_t *)(NOTE_VADDR + REPLY_OFFSET) = 42;
	console_puts("The reply went through: the page is not read-only.\n");
	halt_with(0xbad);
}
