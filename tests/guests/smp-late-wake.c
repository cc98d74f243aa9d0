/*
 * smp-late-wake: a program for step 12's small kernel (guest/smp.c) in
 * which a CPU that the host has seen idle (waiting for INIT, then for a
 * SIPI) is started and runs on without an exit while the only other
 * CPU goes idle. CPU 0 sends CPU 1 INIT, SIPI, SIPI into code of its
 * own, not the trampoline: real mode, counting for half a second by
 * the time-stamp counter (rdtsc, no exit), then a line to the UART and
 * hlt with interrupts off. CPU 0 halts with interrupts off right after
 * the SIPIs. A host that ends the run on what each thread last read
 * can end it while CPU 1 counts: CPU 1's line never comes. Needs two
 * CPUs (step 12's default).
 */
#include "smp.h"

#define LAPIC_ICR_LOW   0xfee00300UL
#define LAPIC_ICR_HIGH  0xfee00310UL
#define ICR_INIT        (5u << 8)
#define ICR_STARTUP     (6u << 8)
#define ICR_BUSY        (1u << 12)
#define ICR_ASSERT      (1u << 14)
#define ICR_LEVEL       (1u << 15)

/* Where CPU 1's code goes (SIPI vector 0x09: CS 0x0900, IP 0), and the
 * word after it where CPU 0 leaves the count of TSC ticks to wait. */
#define LATE_CODE       0x9000
#define LATE_SIPI       0x09
#define LATE_TICKS      0x9100

/* CPU 1's code, copied to LATE_CODE. Real mode, DS 0 as INIT leaves
 * it: wait until the TSC has gone LATE_TICKS' count past its start,
 * then write the line at late_line to COM1 and halt for good. */
__asm__(".section .rodata\n"
	".code16\n"
	".globl late_start, late_end\n"
	"late_start:\n"
	"	cli\n"
	"	rdtsc\n"
	"	mov %eax, %esi\n"
	"	mov %edx, %edi\n"
	"1:	rdtsc\n"
	"	sub %esi, %eax\n"
	"	sbb %edi, %edx\n"
	"	jnz 2f\n"
	"	cmpl 0x9100, %eax\n"
	"	jb 1b\n"
	"2:	mov $(0x9000 + late_line - late_start), %si\n"
	"	mov $0x3f8, %dx\n"
	"3:	lodsb\n"
	"	test %al, %al\n"
	"	jz 4f\n"
	"	out %al, %dx\n"
	"	jmp 3b\n"
	"4:	cli\n"
	"	hlt\n"
	"	jmp 4b\n"
	"late_line:\n"
	"	.asciz \"cpu 1: counted half a second in real mode, without an exit\\n\"\n"
	"late_end:\n"
	".code64\n"
	".text\n");
extern const char late_start[], late_end[];

/* An IPI through this CPU's local APIC's interrupt command register. */
static void icr_send(uint32_t destination, uint32_t command)
{
	while (*(volatile uint32_t *)LAPIC_ICR_LOW & ICR_BUSY)
		;
	*(volatile uint32_t *)LAPIC_ICR_HIGH = destination << 24;
	*(volatile uint32_t *)LAPIC_ICR_LOW = command;
}

static uint64_t rdtsc(void)
{
	uint32_t low, high;

	__asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
	return (uint64_t)high << 32 | low;
}

/* The TSC's ticks in 500 ms, measured over 20 ms of the host's clock. */
static uint32_t ticks_in_half_a_second(void)
{
	uint64_t start = clock_ns(), tsc = rdtsc();

	while (clock_ns() - start < 20000000)
		;
	return (uint32_t)((rdtsc() - tsc) * 25);
}

/* Never called: CPU 1 runs late_start's code instead. */
void ap_main(unsigned cpu)
{
	(void)cpu;
}

void bsp_main(void)
{
	volatile char *code = (volatile char *)LATE_CODE;

	for (long i = 0; i < late_end - late_start; i++)
		code[i] = late_start[i];
	*(volatile uint32_t *)LATE_TICKS = ticks_in_half_a_second();
	console_lock();
	uart_puts("cpu 0: INIT, SIPI, SIPI to cpu 1 (its own code at 0x9000), then halts\n");
	console_unlock();
	icr_send(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	delay_us(10000);
	icr_send(1, ICR_STARTUP | LATE_SIPI);
	delay_us(200);
	icr_send(1, ICR_STARTUP | LATE_SIPI);
}
