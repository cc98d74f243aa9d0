/*
 * counter.c: the program of step 12's guest, run by guest/smp.c on
 * every CPU. The BSP wakes the others one by one; each greets. Then
 * the BSP says go with one IPI to all the others, and every CPU adds 1
 * to a shared counter, iterations times, under a spinlock (or, with
 * the host's --no-lock, without it). Each AP, done, tells the BSP with
 * an IPI; the BSP, when all are done, reports the counter and what
 * each CPU did, and every CPU halts for good.
 */
#include "smp.h"

#define RESULT         42

static struct spinlock counter_lock;
static volatile uint32_t go;            /* the BSP's start signal */
static volatile uint32_t done;          /* the APs that finished counting */

/* listing: count */
/* The counter's next value: a function of its own, called between the
 * read and the write, as a program's work would be (noinline: the
 * compiler must not fold it away). See count(). */
static uint64_t __attribute__((noinline)) next_value(uint64_t value)
{
	return value + 1;
}

/* Add 1 to the counter, iterations times. The addition is a read, then
 * a write: between them another CPU may write the counter too, and one
 * of the two additions is lost. The lock keeps every other CPU out from
 * the read to the write. In the lab the vCPUs take turns on one CPU,
 * and the host can switch them only where its emulator lets an
 * interrupt in: between two blocks of the code it translated, which end
 * at a jump or a call. Without next_value's call, the read and the
 * write would be in one block, and no switch would come between them. */
static void count(unsigned cpu)
{
	uint32_t iterations = SHARED->iterations;
	int use_lock = !(SHARED->flags & SHARED_NO_LOCK);

	for (uint32_t i = 0; i < iterations; i++) {
		if (use_lock)
			spin_lock(&counter_lock);
		SHARED->counter = next_value(SHARED->counter);
		if (use_lock)
			spin_unlock(&counter_lock);
	}
	SHARED->added[cpu] = iterations;
}
/* end listing: count */

/* listing: ap-main */
/* Wait for the BSP's go, count, then say so: done, and an IPI that
 * wakes the BSP. */
void ap_main(unsigned cpu)
{
	while (!go)
		wait_for_interrupt();
	count(cpu);
	__atomic_add_fetch(&done, 1, __ATOMIC_SEQ_CST);
	ipi_send(0);
}
/* end listing: ap-main */

/* The counter against what it should be, in a line. */
static void report_counter(unsigned cpus)
{
	uint64_t expected = (uint64_t)cpus * SHARED->iterations;
	uint64_t counter = SHARED->counter;

	console_lock();
	uart_puts("cpu 0: the counter is ");
	putdec(counter);
	uart_puts(", ");
	putdec(cpus);
	uart_puts(" x ");
	putdec(SHARED->iterations);
	if (counter == expected) {
		uart_puts(": none lost\n");
	} else {
		uart_puts(" = ");
		putdec(expected);
		uart_puts(": ");
		putdec(expected - counter);
		uart_puts(" lost\n");
	}
	console_unlock();
}

/* What each CPU did: its additions, its sleeps for the lock, the IPIs
 * it took. Those come to the BSP from each AP up and done, to an AP
 * for the go, to any CPU from the lock; one that comes while its CPU is
 * awake (interrupts off) waits for its next sleep, or for ever. */
static void report_cpus(unsigned cpus)
{
	console_lock();
	for (unsigned cpu = 0; cpu < cpus; cpu++) {
		uart_puts("cpu 0: cpu ");
		putdec(cpu);
		uart_puts(" added ");
		putdec(SHARED->added[cpu]);
		uart_puts("; sleeps for the lock: ");
		putdec(SHARED->slept[cpu]);
		uart_puts("; IPIs taken: ");
		putdec(SHARED->ipis[cpu]);
		uart_puts("\n");
	}
	console_unlock();
}

/* listing: bsp-main */
/* The BSP: start every AP, say go, count its own share, sleep until
 * every AP is done, report, and leave the 42. */
void bsp_main(void)
{
	unsigned cpus = cpu_count();

	for (unsigned cpu = 1; cpu < cpus; cpu++)
		cpu_start(cpu);
	console_lock();
	uart_puts("cpu 0: ");
	putdec(cpus);
	uart_puts(cpus == 1 ? " CPU up; it adds 1 to the counter " : " CPUs up; each adds 1 to the counter ");
	putdec(SHARED->iterations);
	uart_puts(SHARED->flags & SHARED_NO_LOCK ? " times, without the lock\n" :
		  " times, under the lock (lock cmpxchg)\n");
	if (cpus > 1)
		uart_puts("cpu 0: go: an IPI to every other CPU\n");
	console_unlock();
	go = 1;
	if (cpus > 1)
		ipi_send_others();
	count(0);
	while (done != cpus - 1)
		wait_for_interrupt();
	report_counter(cpus);
	report_cpus(cpus);
	SHARED->result = RESULT;
}
/* end listing: bsp-main */
