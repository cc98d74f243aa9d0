/*
 * fault-gp: a program for step 9's small kernel (guest/interrupts.c)
 * that reads a non-canonical address (bits 63:48 not copies of bit 47):
 * #GP, vector 13, error code 0. Powers off with 0x8d.
 */
#include "interrupts.h"

int guest_main(void)
{
	uart_puts("reading a non-canonical address\n");
	return *(volatile uint8_t *)0x8000000000000000UL;
}
