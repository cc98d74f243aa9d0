/*
 * echo.c: the program of step 9's guest, started by guest/interrupts.c
 * with interrupts on. It measures the timer against the host's clock,
 * then echoes what the host types, in capitals, as each byte's
 * interrupt brings it, until the input ends (the host drops DCD, or
 * Ctrl-D) or nothing comes for IDLE_TICKS. Between interrupts it
 * sleeps (sti; hlt). At the end it prints its uptime, by the timer.
 */
#include "interrupts.h"

#define CTRL_D         0x04    /* end of input, typed in a raw terminal */
#define TIMER_CHECK    20      /* ticks: 200 ms */
#define IDLE_TICKS     (5 * TIMER_HZ)

/* Upper-case a byte; one that does not print becomes a dot, a carriage
 * return (a raw terminal's Enter) a newline. */
static char shout(int c)
{
	if (c == '\r' || c == '\n')
		return '\n';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 'A';
	return c >= 0x20 && c < 0x7f ? c : '.';
}

/* listing: timer-check */
/* Sleep through TIMER_CHECK ticks and compare with the host's clock:
 * 20 ticks of a 100 Hz timer take 200 ms. Prints both. */
static void timer_check(void)
{
	uint64_t start_tick = ticks_now(), start_ns = clock_ns();

	while (ticks_now() - start_tick < TIMER_CHECK)
		idle();
	uart_puts("timer: ");
	putdec(TIMER_CHECK);
	uart_puts(" ticks took ");
	putdec((clock_ns() - start_ns) / 1000000);
	uart_puts(" ms by the host's clock (");
	putdec(TIMER_CHECK * 1000 / TIMER_HZ);
	uart_puts(" ms at 100 Hz)\n");
}
/* end listing: timer-check */

/* listing: echo */
/* Echo every byte in capitals as its interrupt brings it, sleeping in
 * between. Returns why it stopped, to be printed; *mid_line says
 * whether the echo ended in the middle of a line. */
static const char *echo(int *mid_line)
{
	uint64_t last = ticks_now();
	int c;

	for (;;) {
		c = input_get();
		if (c == INPUT_CLOSED)
			return "the input is closed (the host dropped DCD, carrier detect)";
		if (c == CTRL_D)
			return "Ctrl-D";
		if (c >= 0) {
			uart_putc(shout(c));
			*mid_line = shout(c) != '\n';
			last = ticks_now();
			continue;
		}
		if (ticks_now() - last >= IDLE_TICKS)
			return "nothing came for 5 s";
		idle();
	}
}
/* end listing: echo */

int guest_main(void)
{
	const char *why;
	int mid_line = 0;
	uint64_t t;

	uart_puts("Hello from the guest: IDT, PIC and PIT set up, interrupts on.\n");
	timer_check();
	uart_puts("Type, and the guest echoes in capitals (Ctrl-D ends; Ctrl-A x quits):\n");
	why = echo(&mid_line);
	uart_puts(mid_line ? "\nThe end: " : "The end: ");
	uart_puts(why);
	t = ticks_now();
	uart_puts(".\nuptime: ");
	putdec(t / TIMER_HZ);
	uart_putc('.');
	putdec(t % TIMER_HZ / 10);
	putdec(t % 10);
	uart_puts(" s (");
	putdec(t);
	uart_puts(" ticks); the guest slept in hlt ");
	putdec(idle_count());
	uart_puts(" times\n");
	return 0;
}
