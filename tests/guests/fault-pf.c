/*
 * fault-pf: a program for step 9's small kernel (guest/interrupts.c)
 * that writes to 0x400000, which the host's page tables do not map:
 * #PF, vector 14, error code 2 (a write, to a page not present), CR2
 * 0x400000. Powers off with 0x8e.
 */
#include "interrupts.h"

int guest_main(void)
{
	uart_puts("writing to an unmapped address\n");
	*(volatile uint8_t *)0x400000UL = 1;
	return 0;
}
