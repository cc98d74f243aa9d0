/*
 * debug.c: step 11's guest, the one to debug with gdb. It does the seed's
 * job in 64-bit long mode, as step 7's does: prints "Hello, world!"
 * through port 0xE9, stores its answer (42) at address 0x400 and halts
 * with it in RAX. Unlike step 7's guest it stays in the low half, where
 * the page tables map virtual = physical: the addresses in its ELF file
 * (build/guest/debug64.elf) are the addresses the vCPU runs at, so gdb's
 * symbols are right without any relocation.
 *
 * What it gives gdb to play with:
 *   main      a function to break on (break main), called by _start;
 *   message   the string it prints (x/s message);
 *   answer    the number it ends with (set var answer = 7: the guest
 *             prints it and halts with it);
 *   spin      0; set it to 1 and the guest waits in main, a loop that
 *             only Ctrl-C (or set var spin = 0) gets out of;
 *   finish    the function that halts, its argument in RDI (set $rdi).
 *
 * Freestanding: no libc, no startup files. The host sets the stack
 * pointer and starts the vCPU at _start, the first byte of the binary.
 */
#include <stdint.h>

#define CONSOLE_PORT   0xe9        /* the Bochs/QEMU debug console */
#define RESULT         42

/* Where the host looks for the answer: address 0x400 (guest/guest.ld). */
extern volatile uint32_t guest_result;

/* The guest's data, each a symbol gdb can read and write. */
const char message[] = "Hello, world!\n";
volatile uint32_t answer = RESULT;
volatile uint32_t spin;

/* One byte out to an I/O port: a VM exit to the host's run loop. */
static void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

/* Print a NUL-terminated string on the host's console, byte by byte. */
static void console_puts(const char *s)
{
	while (*s)
		outb(CONSOLE_PORT, *s++);
}

/* Print a number in decimal, as few digits as it takes. */
static void console_putdec(uint32_t value)
{
	char digits[11];
	int n = sizeof(digits) - 1;

	digits[n] = '\0';
	do {
		digits[--n] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	console_puts(digits + n);
}

/* Leave the result where the host looks, then halt with it in EAX (RAX).
 * noinline: a function of its own, to break on and to change RDI in. */
void __attribute__((noinline, noreturn)) finish(uint32_t result)
{
	guest_result = result;
	for (;;)
		__asm__ volatile("hlt" : : "a"(result));
}

/* The program: the greeting, a wait while spin is set (for gdb's Ctrl-C),
 * then the answer. noinline: gdb's "break main" needs a main. */
int __attribute__((noinline)) main(void)
{
	console_puts(message);
	while (spin)
		__asm__ volatile("pause");
	console_puts("The answer is ");
	console_putdec(answer);
	console_puts(".\n");
	return (int)answer;
}

/* The entry point: the host starts the vCPU here, with the stack set.
 * The section puts it first in the binary (see guest.ld). */
void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	finish((uint32_t)main());
}
