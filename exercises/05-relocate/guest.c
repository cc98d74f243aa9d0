/*
 * guest.c: the guest of exercise 05-relocate, 32-bit protected mode,
 * linked for address 0x1000 by guest/guest.ld. Nothing to change here.
 *
 * It reloads its data segment registers from the GDT, so the descriptors
 * in the table must say what the host's KVM_SET_SREGS said. Then it
 * prints where it thinks it runs, stores 42 at 0x400 and halts with 42
 * in EAX. Every address it uses is an offset into a segment.
 */
#include <stdint.h>

#define CONSOLE_PORT   0xe9        /* the Bochs/QEMU debug console */
#define GDT_DATA       0x10        /* the data segment's selector */

/* Where the host looks for the 42: address 0x400 (see guest/guest.ld). */
extern volatile uint32_t guest_result;

/* One byte to the console port: one KVM_EXIT_IO. */
static void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

/* Print a string, then a number in hex. */
static void console_puts(const char *s)
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

/* Load DS, ES and SS from the GDT: the CPU reads the descriptor from the
 * table in memory into each register's hidden cache. */
static void reload_data_segments(void)
{
	__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es\n\tmov %0, %%ss"
			 : : "r"((uint32_t)GDT_DATA) : "memory");
}

/* The offset of this code in CS: what EIP holds, not where it lies. */
static uint32_t current_eip(void)
{
	uint32_t eip;

	__asm__ volatile("call 1f\n1:\tpop %0" : "=r"(eip));
	return eip;
}

void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	reload_data_segments();
	console_puts("Hello from the guest: my code runs at offset ");
	console_puthex(current_eip() & ~0xfffu);
	console_puts(", my stack at ");
	console_puthex((uint32_t)(uintptr_t)__builtin_frame_address(0) & ~0xfffu);
	console_puts("\n");
	guest_result = 42;
	for (;;)
		__asm__ volatile("hlt" : : "a"(42));
}
