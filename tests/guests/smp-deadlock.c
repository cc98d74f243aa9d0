/*
 * smp-deadlock: a program for step 12's small kernel (guest/smp.c) in
 * which two CPUs take two locks in opposite orders: CPU 0 holds a and
 * wants b, CPU 1 holds b and wants a. Each spins, then sleeps in hlt
 * for the IPI the other's spin_unlock would send, and never will: the
 * watchdog stops both, asleep with interrupts on. Needs two CPUs
 * (step 12's default).
 */
#include "smp.h"

static struct spinlock a, b;
static volatile int bsp_holds_a, ap_holds_b;

/* One line, under the console's lock. */
static void say(const char *line)
{
	console_lock();
	uart_puts(line);
	console_unlock();
}

/* CPU 1 takes b, says so, and only then tells CPU 0, which says so
 * in turn: the two lines come in this order, every time. */
void ap_main(unsigned cpu)
{
	(void)cpu;
	spin_lock(&b);
	say("cpu 1: holds lock b, takes lock a\n");
	ap_holds_b = 1;
	while (!bsp_holds_a)
		;
	spin_lock(&a);
	say("cpu 1: took lock a: no deadlock after all\n");
}

void bsp_main(void)
{
	cpu_start(1);
	spin_lock(&a);
	while (!ap_holds_b)
		;
	say("cpu 0: holds lock a, takes lock b\n");
	bsp_holds_a = 1;
	spin_lock(&b);
	say("cpu 0: took lock b: no deadlock after all\n");
}
