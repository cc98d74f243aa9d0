/*
 * smp.h: what guest/smp.c, the small kernel of step 12's guests, offers
 * the program it runs on every processor (guest/counter.c, and the test
 * guests of tests/guests/smp-*.c): the CPUs' numbers, starting the
 * others, interprocessor interrupts (IPIs), spinlocks, the console and
 * the host's clock.
 *
 * The host starts CPU 0, the bootstrap processor (BSP), in long mode at
 * smp.c's _start; the kernel sets up its IDT and local APIC, then calls
 * bsp_main(). The others, the application processors (APs), wait until
 * the BSP wakes them with cpu_start(n): each runs the real-mode
 * trampoline (guest/trampoline.S) to long mode, greets, and calls
 * ap_main(n). When either returns, that CPU halts for good (cli; hlt).
 * Every CPU runs with interrupts off, except while it sleeps in
 * wait_for_interrupt(): an IPI never lands in the middle of its code.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdint.h>

#define MAX_CPUS       8
#define NS_PER_SECOND  1000000000UL

/*
 * What the host and the guest share, at guest-physical 0x400
 * (steps/step12.c draws the same map): the host writes the numbers the
 * command line asked for before the BSP starts; the guest leaves its
 * results for the host to check.
 */
struct shared {
	uint32_t result;                /* 0x400: 42, the steps' sign of life */
	uint32_t reserved;
	uint64_t counter;               /* 0x408: the counter every CPU raises */
	uint32_t cpus;                  /* 0x410: from the host: --cpus */
	uint32_t iterations;            /* 0x414: --iterations, each CPU's share */
	uint32_t flags;                 /* 0x418: SHARED_NO_LOCK (--no-lock) */
	uint32_t started;               /* 0x41c: bit n: CPU n reached long mode */
	uint64_t added[MAX_CPUS];       /* 0x420: the increments each CPU made */
	uint64_t slept[MAX_CPUS];       /* 0x460: its sleeps, waiting for a lock */
	uint64_t ipis[MAX_CPUS];        /* 0x4a0: the IPIs it took */
};
#define SHARED_NO_LOCK 0x1

/* guest/guest.ld puts it at 0x400 (a symbol, not a number cast to a
 * pointer: the compiler takes an address below 4 KiB for NULL's
 * neighbourhood, and warns). */
extern volatile struct shared guest_shared;
#define SHARED         (&guest_shared)

/* The program's two halves, which the kernel calls (see above). */
void bsp_main(void);
void ap_main(unsigned cpu);

/* This CPU's number, its local APIC's ID (0 to cpus - 1), and how many
 * CPUs the host gave the machine. */
unsigned this_cpu(void);
unsigned cpu_count(void);

/* Wake CPU n with INIT, SIPI, SIPI; return once it has greeted. */
void cpu_start(unsigned cpu);

/* An IPI (vector IPI_VECTOR) to CPU n, or to every CPU but this one;
 * and sleep until an interrupt (sti; hlt; cli). */
void ipi_send(unsigned cpu);
void ipi_send_others(void);
void wait_for_interrupt(void);

/* A spinlock: lock cmpxchg to take it; a CPU that spins too long
 * sleeps until the holder's spin_unlock wakes it with an IPI. */
struct spinlock {
	volatile uint32_t locked;       /* 1: held */
	volatile uint32_t sleepers;     /* bit n: CPU n sleeps, waiting for it */
};
void spin_lock(struct spinlock *lock);
void spin_unlock(struct spinlock *lock);

/* The UART, written to by polling LSR. A line is printed whole by
 * holding the console's lock around it. */
void console_lock(void);
void console_unlock(void);
void uart_putc(char c);
void uart_puts(const char *s);
void putdec(uint64_t value);
void puthex(uint64_t value, int digits);

/* The host's clock (the sysregs' CLOCK), in ns since 1970; a delay. */
uint64_t clock_ns(void);
void delay_us(uint64_t microseconds);

#endif
