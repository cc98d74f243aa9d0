/*
 * hello.c: the C guest of steps 5, 6 and 7. The same source is compiled
 * twice: -m32 for 32-bit protected mode (steps 5 and 6) and -m64 for long
 * mode (step 7). It does the seed's job, like step 4's real-mode guest:
 * prints "Hello, world!" through port 0xE9, stores 42 at address 0x400
 * and halts with 42 in EAX (RAX).
 *
 * Then it proves the mode it runs in is real:
 *   - with paging on (step 6), it reads a note the host left at virtual
 *     address 0x400000, which is not RAM at all unless the page tables
 *     map it somewhere, and writes its reply back through the same page;
 *   - in long mode (step 7), it jumps to a second mapping of itself in
 *     the high half, 0xffffffff80000000 up, and finishes from there.
 *
 * Freestanding: no libc, no startup files. The host sets the stack
 * pointer and starts the vCPU at _start, the first byte of the binary.
 */
#include <stdint.h>

#define CONSOLE_PORT   0xe9        /* the Bochs/QEMU debug console */
#define RESULT         42

/* Where the host looks for the 42: address 0x400, given to this symbol
 * by guest/guest.ld. (A constant cast to a pointer would do as well, but
 * gcc 12 warns about pointers into the first page.) */
extern volatile uint32_t guest_result;

/* Step 6: the host's note, mapped at this virtual address. The guest
 * writes its reply at NOTE_REPLY_OFFSET inside the same page. */
#define NOTE_VADDR          0x400000
#define NOTE_REPLY_OFFSET   0x100

/* Step 7: where the second mapping of low memory starts. */
#define HIGH_HALF      0xffffffff80000000UL

/* CR0.PG, bit 31: paging is on. */
#define CR0_PG         0x80000000UL

/* listing: port-io */
/* One byte out to an I/O port, one byte in: each is a VM exit to the
 * host's run loop (KVM_EXIT_IO), exactly as in step 4. */
static void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static uint8_t inb(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}
/* end listing: port-io */

/* Print a NUL-terminated string on the host's console, byte by byte. */
static void console_puts(const char *s)
{
	while (*s)
		outb(CONSOLE_PORT, *s++);
}

/* Print a number in hexadecimal with a 0x prefix, all its digits. */
static void console_puthex(unsigned long value)
{
	char digits[2 + 2 * sizeof(value) + 1];
	int n = 2 + 2 * (int)sizeof(value);

	digits[0] = '0';
	digits[1] = 'x';
	digits[n] = '\0';
	for (int i = n - 1; i >= 2; i--, value >>= 4)
		digits[i] = "0123456789abcdef"[value & 0xf];
	console_puts(digits);
}

/* listing: store-and-halt */
/* Leave the 42 where the host looks, then halt with 42 in EAX (RAX).
 * "hlt" at privilege level 0 ends KVM_RUN with KVM_EXIT_HLT. */
static void __attribute__((noreturn)) store_result_and_halt(void)
{
	guest_result = RESULT;
	for (;;)
		__asm__ volatile("hlt" : : "a"(RESULT));
}
/* end listing: store-and-halt */

#ifndef __x86_64__
/* The control register CR0, read by the guest itself: its PG bit says
 * whether the addresses this code uses are being translated. */
static unsigned long read_cr0(void)
{
	unsigned long cr0;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	return cr0;
}

/* listing: read-note */
/* Paging is on: print the host's note from NOTE_VADDR, then write the
 * reply into the same page. Without a page table entry for NOTE_VADDR
 * both accesses fault; with a read-only one, the write does. */
static void read_host_note(void)
{
	const volatile char *note = (const volatile char *)NOTE_VADDR;
	volatile uint32_t *reply = (volatile uint32_t *)(NOTE_VADDR + NOTE_REPLY_OFFSET);

	console_puts("The guest reads at virtual ");
	console_puthex(NOTE_VADDR);
	console_puts(": ");
	for (int i = 0; i < NOTE_REPLY_OFFSET && note[i]; i++)
		outb(CONSOLE_PORT, note[i]);
	console_puts("\n");
	*reply = RESULT;
}
/* end listing: read-note */
#endif

#ifdef __x86_64__
/* listing: high-half */
/* Step 7: this function runs through the high-half mapping. Its code is
 * the same bytes as in low memory; only RIP differs (the addresses of its
 * strings are still the low ones the linker gave, which stay mapped). It
 * prints the page it runs in, then finishes the guest's job up there. */
static void __attribute__((noreturn)) continue_in_high_half(void)
{
	unsigned long rip;

	__asm__ volatile("lea 0(%%rip), %0" : "=r"(rip));
	console_puts("Now running in the high half, in the page at ");
	console_puthex(rip & ~0xfffUL);
	console_puts("\n");
	store_result_and_halt();
}

/* Jump to continue_in_high_half() through its high-half address: the
 * same physical bytes, HIGH_HALF above the address the linker gave. */
static void __attribute__((noreturn)) jump_to_high_half(void)
{
	void (*high)(void) = (void (*)(void))((unsigned long)continue_in_high_half + HIGH_HALF);

	high();
	__builtin_unreachable();
}
/* end listing: high-half */
#endif

/* listing: guest-main */
/* The entry point: the host starts the vCPU here, with the stack set.
 * The section puts it first in the binary (see guest.ld). */
void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	if (inb(CONSOLE_PORT) != CONSOLE_PORT)
		for (;;)
			__asm__ volatile("hlt" : : "a"(0xdead));
	console_puts("Hello, world!\n");
#ifdef __x86_64__
	jump_to_high_half();
#else
	if (read_cr0() & CR0_PG)
		read_host_note();
	store_result_and_halt();
#endif
}
/* end listing: guest-main */
