/*
 * fault-divide: a program for step 9's small kernel (guest/interrupts.c)
 * that divides by zero: #DE, vector 0, no error code. The kernel's
 * handler reports it and powers off with 0x80 (run with ./step9 --guest).
 */
#include "interrupts.h"

int guest_main(void)
{
	volatile int zero = 0;

	uart_puts("dividing by zero\n");
	return 42 / zero;
}
