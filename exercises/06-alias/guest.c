/*
 * guest.c: the guest of exercise 06-alias, 32-bit protected mode with
 * paging, linked for 0x1000 by guest/guest.ld. Nothing to change here.
 *
 * It writes a line into the note page through its second address,
 * 0x800000, reads it back through the first, 0x400000, and prints it.
 * It replies 42 through the second address too, stores 42 at 0x400 and
 * halts with 42 in EAX.
 */
#include <stdint.h>

#define CONSOLE_PORT   0xe9        /* the Bochs/QEMU debug console */
#define NOTE_VADDR     0x400000    /* the host's note page ... */
#define ALIAS_VADDR    0x800000    /* ... and its second address */
#define LINE_OFFSET    0x200       /* where in the page the line goes */
#define REPLY_OFFSET   0x100       /* where the host looks for the reply */

/* Where the host looks for the 42: address 0x400 (see guest/guest.ld). */
extern volatile uint32_t guest_result;

/* One byte to the console port: one KVM_EXIT_IO. */
static void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

/* Print a NUL-terminated string, through any address. */
static void console_puts(const volatile char *s)
{
	while (*s)
		outb(CONSOLE_PORT, *s++);
}

/* Copy a string into the note page through the address given. */
static void note_write(uintptr_t base, const char *s)
{
	volatile char *line = (volatile char *)(base + LINE_OFFSET);

	do
		*line++ = *s;
	while (*s++);
}

void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	console_puts("The host's note, through 0x400000: ");
	console_puts((const volatile char *)NOTE_VADDR);
	console_puts("\n");
	note_write(ALIAS_VADDR, "written by the guest through 0x800000");
	console_puts("Read back through 0x400000: ");
	console_puts((const volatile char *)(NOTE_VADDR + LINE_OFFSET));
	console_puts("\n");
	*(volatile uint32_t *)(ALIAS_VADDR + REPLY_OFFSET) = 42;
	guest_result = 42;
	for (;;)
		__asm__ volatile("hlt" : : "a"(42));
}
