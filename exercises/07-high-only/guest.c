/*
 * guest.c: the guest of exercise 07-high-only, 64-bit long mode, linked
 * for 0xffffffff80001000 (guest.ld) with -mcmodel=kernel, the model for
 * code in the top 2 GiB. Nothing to change here.
 *
 * It reloads its data segment registers, which makes the CPU read the
 * GDT through GDTR, prints where its code and stack are, stores 42 at
 * 0x400 (physical; virtual 0xffffffff80000400) and halts with 42 in RAX.
 */
#include <stdint.h>

#define CONSOLE_PORT   0xe9        /* the Bochs/QEMU debug console */
#define GDT_DATA       0x10        /* the host's data segment */

/* Where the host looks for the 42 (see guest.ld). */
extern volatile uint32_t guest_result;

/* One byte to the console port: one KVM_EXIT_IO. */
static void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

/* Print a string, then a number as 0x and sixteen hex digits. */
static void console_puts(const char *s)
{
	while (*s)
		outb(CONSOLE_PORT, *s++);
}

static void console_puthex(uint64_t value)
{
	console_puts("0x");
	for (int shift = 60; shift >= 0; shift -= 4)
		outb(CONSOLE_PORT, "0123456789abcdef"[(value >> shift) & 0xf]);
}

/* Load DS, ES and SS from the GDT. In 64-bit mode their bases are
 * ignored, but the CPU still reads and checks each descriptor, at the
 * linear address GDTR holds. */
static void reload_data_segments(void)
{
	__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es\n\tmov %0, %%ss"
			 : : "r"((uint64_t)GDT_DATA) : "memory");
}

void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	uint64_t rip;

	reload_data_segments();
	__asm__ volatile("lea 0(%%rip), %0" : "=r"(rip));
	console_puts("Hello from the high half: code in the page at ");
	console_puthex(rip & ~0xfffULL);
	console_puts(", stack in the page at ");
	console_puthex((uint64_t)__builtin_frame_address(0) & ~0xfffULL);
	console_puts("\n");
	guest_result = 42;
	for (;;)
		__asm__ volatile("hlt" : : "a"(42));
}
