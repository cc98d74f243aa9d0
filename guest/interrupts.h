/*
 * interrupts.h: what guest/interrupts.c, the small kernel of step 9's
 * guests, offers the program it starts (guest/echo.c, and the test
 * guests of tests/guests/fault-*.c): the UART, the timer's ticks, the
 * received bytes, and the sysregs' clock.
 *
 * interrupts.c's _start sets up the IDT, the PIC, the PIT and the UART,
 * enables interrupts and calls guest_main(); what guest_main returns is
 * the exit code the guest powers off with.
 */
#ifndef GUEST_INTERRUPTS_H
#define GUEST_INTERRUPTS_H

#include <stdint.h>

#define TIMER_HZ       100     /* the PIT's channel 0 interrupts per second */
#define NS_PER_SECOND  1000000000UL
#define INPUT_CLOSED   (-1)    /* input_get: no byte will ever come */
#define INPUT_NONE     (-2)    /* input_get: no byte yet */

int guest_main(void);

/* The UART, written to by polling LSR (output needs no interrupt). */
void uart_putc(char c);
void uart_puts(const char *s);
void putdec(uint64_t value);
void puthex(uint64_t value, int digits);

/* The timer: ticks since the PIT started, counted by its interrupt. */
uint64_t ticks_now(void);

/* The next byte the UART's interrupt received, or INPUT_NONE, or
 * INPUT_CLOSED once the input has ended and every byte was taken. */
int input_get(void);

/* Sleep until the next interrupt: sti; hlt. Counts the halts. */
void idle(void);
uint64_t idle_count(void);

/* The host's clock, in ns since 1970 (the sysregs' CLOCK). */
uint64_t clock_ns(void);

#endif
