/*
 * smp.c: the small kernel of step 12's guests, 64-bit, one copy of it
 * shared by every processor. It gives the program (guest/counter.c)
 * what an operating system sets up to run on several CPUs:
 *
 *   - an IDT that every CPU loads, with gates for the exceptions and
 *     for the interrupts of the local APICs (an IPI, the spurious one);
 *   - each CPU's local APIC, turned on, and the means to send IPIs with
 *     it: INIT, SIPI (start-up) and ordinary ones, by writing its ICR;
 *   - the start of the application processors (APs): the real-mode
 *     trampoline (guest/trampoline.S) copied to a page below 1 MiB, and
 *     INIT, SIPI, SIPI, as Intel's MP start-up protocol has it;
 *   - spinlocks on lock cmpxchg, whose waiters sleep when the holder
 *     takes too long and are woken by an IPI;
 *   - the UART (COM1) as a console, under a lock, and the sysregs'
 *     clock; exception handlers that report and power off.
 *
 * The host starts CPU 0 (the BSP) at _start, the first byte of the
 * binary, in long mode, with its stack set and no IDT; the others wait
 * for INIT and SIPI. Freestanding: no libc.
 */
#include "smp.h"

/* The memory map this kernel keeps (the host's is in steps/step12.c):
 * the trampoline's page, and each CPU's 16 KiB stack, going down from
 * the top of RAM, where the host put the BSP's (CPU 0's). */
#define TRAMPOLINE      0x8000          /* guest/trampoline.S runs here */
#define SIPI_VECTOR     (TRAMPOLINE >> 12)
#define STACK_TOP       0x200000
#define CPU_STACK_SIZE  0x4000

/* The local APIC's registers (xAPIC: memory-mapped, 4 KiB at
 * 0xfee00000, each CPU seeing its own there; the host maps the page,
 * uncached). Each register is 32 bits, 16-byte aligned. */
#define LAPIC           0xfee00000UL
#define LAPIC_ID        0x020           /* bits 31:24: this CPU's APIC ID */
#define LAPIC_EOI       0x0b0           /* write 0: end of interrupt */
#define LAPIC_SVR       0x0f0           /* spurious vector, and on/off */
#define LAPIC_ICR_LOW   0x300           /* interrupt command: writing sends */
#define LAPIC_ICR_HIGH  0x310           /* bits 31:24: the destination */
#define SVR_ENABLE      0x100           /* the APIC software-enabled */

/* The vectors this kernel's interrupts use, from the stubs of
 * guest/vectors.S (0 to 47): 0x20 for every IPI (the message is in
 * memory; an IPI only wakes), 0x2f for the APIC's spurious interrupt. */
#define IPI_VECTOR      0x20
#define SPURIOUS_VECTOR 0x2f

/* The UART at COM1 (steps/step8.c draws its registers), the two PICs'
 * data ports (their mask registers), and the sysregs (steps/step8.c). */
#define COM1            0x3f8
#define UART_IER        1
#define UART_FCR        2
#define UART_LCR        3
#define UART_LSR        5
#define UART_THR        0
#define UART_DLL        0
#define UART_DLM        1
#define LCR_8N1         0x03
#define LCR_DLAB        0x80
#define FCR_ENABLE      0x01
#define LSR_THRE        0x20
#define PIC1_DATA       0x21
#define PIC2_DATA       0xa1
#define SYSREGS_CLOCK   0xd0000008UL
#define SYSREGS_POWER_OFF 0xd0000018UL

/* The code segment of the host's GDT (steps/step12.c: GDT_CODE), and
 * of the trampoline's, at the same selector. */
#define KERNEL_CS       0x08

/* How long a CPU spins for a lock (pause after pause) before it sleeps. */
#define SPIN_LIMIT      1024

/* The registers vectors.S saves, then what the stub and the CPU pushed. */
struct frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

static void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static uint8_t inb(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/* pause: "I am spinning". It saves power, tells a hyperthread's twin
 * to go ahead, and on a KVM that watches for it (pause-loop exiting)
 * makes the vCPU give its host CPU to another. */
static void pause(void)
{
	__asm__ volatile("pause" : : : "memory");
}

/* ------------------------------------------------------------------ */
/* The local APIC                                                      */

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(LAPIC + reg);
}

static void lapic_write(uint32_t reg, uint32_t value)
{
	*(volatile uint32_t *)(LAPIC + reg) = value;
}

unsigned this_cpu(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

unsigned cpu_count(void)
{
	uint32_t cpus = SHARED->cpus;

	return cpus >= 1 && cpus <= MAX_CPUS ? cpus : 1;
}

/* Turn this CPU's local APIC on (software enable, SVR bit 8), with
 * its spurious vector: an APIC that is off drops every ordinary
 * interrupt sent to it (INIT and SIPI still come through). */
static void lapic_enable(void)
{
	lapic_write(LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
}

/* listing: lapic-send */
/*
 * Send an interrupt with the ICR, the interrupt command register: 64
 * bits in two registers. The high one names the destination; writing
 * the low one sends.
 *
 *   ICR high:  63        56 55                                   32
 *             +------------+---------------------------------------+
 *             |destination |                 0                     |
 *             +------------+---------------------------------------+
 *   ICR low:   31   20 19  18 17 16 15  14  13 12   11  10   8 7        0
 *             +-------+------+-----+----+----+--+----+----+------+--------+
 *             |   0   |short-|  0  |trig|lvl |0 |busy|dest| mode | vector |
 *             |       | hand |     |    |    |  |    |mode|      |        |
 *             +-------+------+-----+----+----+--+----+----+------+--------+
 *   mode: 000 fixed (an interrupt at vector), 101 INIT, 110 start-up
 *   (SIPI: vector is the page to start in). dest mode 0: destination is
 *   an APIC ID. busy: delivery pending (KVM delivers at once). lvl 1:
 *   assert. trig 1: level (INIT is sent so). shorthand: 00 the
 *   destination field, 01 self, 10 all, 11 all but self.
 */
#define ICR_FIXED       (0u << 8)
#define ICR_INIT        (5u << 8)
#define ICR_STARTUP     (6u << 8)
#define ICR_BUSY        (1u << 12)
#define ICR_ASSERT      (1u << 14)
#define ICR_LEVEL       (1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)

static void lapic_send(uint32_t destination, uint32_t command)
{
	while (lapic_read(LAPIC_ICR_LOW) & ICR_BUSY)
		pause();
	lapic_write(LAPIC_ICR_HIGH, destination << 24);
	lapic_write(LAPIC_ICR_LOW, command);
}

void ipi_send(unsigned cpu)
{
	lapic_send(cpu, ICR_FIXED | ICR_ASSERT | IPI_VECTOR);
}

void ipi_send_others(void)
{
	lapic_send(0, ICR_ALL_BUT_SELF | ICR_FIXED | ICR_ASSERT | IPI_VECTOR);
}
/* end listing: lapic-send */

/* listing: wait-for-interrupt */
/* Sleep until an interrupt. sti enables interrupts only after the next
 * instruction, so an IPI that came while they were off, or comes now,
 * wakes the hlt instead of slipping in before it; its handler runs,
 * then cli turns them off again. */
void wait_for_interrupt(void)
{
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}
/* end listing: wait-for-interrupt */

/* ------------------------------------------------------------------ */
/* The console and the clock                                           */

void uart_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		;
	outb(COM1 + UART_THR, c);
}

void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

void puthex(uint64_t value, int digits)
{
	uart_puts("0x");
	for (int i = digits - 1; i >= 0; i--)
		uart_putc("0123456789abcdef"[(value >> (4 * i)) & 0xf]);
}

void putdec(uint64_t value)
{
	char digits[21];
	int n = 0;

	do {
		digits[n++] = '0' + value % 10;
		value /= 10;
	} while (value);
	while (n > 0)
		uart_putc(digits[--n]);
}

/* 115200 baud, 8N1, FIFOs on, no interrupts: the console is polled. */
static void uart_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_ENABLE);
}

uint64_t clock_ns(void)
{
	return *(volatile uint64_t *)SYSREGS_CLOCK;
}

void delay_us(uint64_t microseconds)
{
	uint64_t start = clock_ns();

	while (clock_ns() - start < microseconds * 1000)
		pause();
}

/* ------------------------------------------------------------------ */
/* Spinlocks                                                           */

/* listing: lock-try */
/* Take the lock if it is free, in one instruction: lock cmpxchg
 * compares the lock with eax (0, free) and, if equal, writes 1, else
 * loads the holder's value into eax; the lock prefix makes the read
 * and the write one indivisible step on every CPU's view of memory. */
static int lock_try(struct spinlock *lock)
{
	uint32_t seen = 0;

	__asm__ volatile("lock cmpxchg %2, %1"
			 : "+a"(seen), "+m"(lock->locked)
			 : "r"(1u)
			 : "memory", "cc");
	return seen == 0;
}
/* end listing: lock-try */

/* listing: spin-lock */
/* Sleep until the holder lets go: announce it in sleepers (lock or:
 * a full barrier), look once more, then hlt with interrupts on. The
 * holder's spin_unlock frees the lock, then reads sleepers and sends
 * each an IPI: of the two, one must see the other's write, so the
 * sleeper either finds the lock free or gets the IPI. */
static void lock_sleep(struct spinlock *lock)
{
	uint32_t me = 1u << this_cpu();

	__asm__ volatile("lock orl %1, %0" : "+m"(lock->sleepers) : "r"(me) : "memory");
	if (lock->locked) {
		wait_for_interrupt();
		SHARED->slept[this_cpu()]++;
	}
	__asm__ volatile("lock andl %1, %0" : "+m"(lock->sleepers) : "r"(~me) : "memory");
}

/* Spin: try, and while the lock is held read it (a read needs no bus
 * lock, unlike cmpxchg) with a pause each time; after SPIN_LIMIT
 * pauses, sleep. A vCPU's holder may not be running at all: the host
 * may have given its CPU to the waiter's thread, which would spin away
 * the time the holder needs. */
void spin_lock(struct spinlock *lock)
{
	unsigned spins = 0;

	while (!lock_try(lock)) {
		while (lock->locked) {
			pause();
			if (++spins == SPIN_LIMIT) {
				lock_sleep(lock);
				spins = 0;
			}
		}
	}
}

/* Free the lock with xchg, which is locked and a full barrier (a plain
 * mov would be enough to free it, but the read of sleepers must not
 * pass the write: see lock_sleep), then wake the sleepers. */
void spin_unlock(struct spinlock *lock)
{
	uint32_t zero = 0;
	uint32_t sleepers;

	__asm__ volatile("xchg %0, %1" : "+r"(zero), "+m"(lock->locked) : : "memory");
	sleepers = lock->sleepers;
	for (unsigned cpu = 0; cpu < MAX_CPUS; cpu++)
		if (sleepers & (1u << cpu))
			ipi_send(cpu);
}
/* end listing: spin-lock */

static struct spinlock console;

void console_lock(void)
{
	spin_lock(&console);
}

void console_unlock(void)
{
	spin_unlock(&console);
}

/* ------------------------------------------------------------------ */
/* The IDT, the exceptions, the interrupts                             */

/* One gate of the long-mode IDT (guest/interrupts.c draws its bits):
 * an interrupt gate (0xe), present, in the kernel's code segment. */
struct idt_gate {
	uint16_t address_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attributes;
	uint16_t address_middle;
	uint32_t address_high;
	uint32_t reserved;
};

#define GATE_PRESENT    0x80
#define GATE_INTERRUPT  0x0e

static struct idt_gate idt[256] __attribute__((aligned(16)));

/* The entry points of guest/vectors.S, 16 bytes apart. */
extern const char vector_stubs[];

static void idt_set(int vector)
{
	uint64_t handler = (uint64_t)(vector_stubs + 16 * vector);
	struct idt_gate *g = &idt[vector];

	g->address_low = handler & 0xffff;
	g->selector = KERNEL_CS;
	g->ist = 0;
	g->type_attributes = GATE_PRESENT | GATE_INTERRUPT;
	g->address_middle = (handler >> 16) & 0xffff;
	g->address_high = handler >> 32;
	g->reserved = 0;
}

/* The BSP fills the gates once: the 32 exceptions, the IPI and the
 * spurious vector. */
static void idt_init(void)
{
	for (int v = 0; v < 32; v++)
		idt_set(v);
	idt_set(IPI_VECTOR);
	idt_set(SPURIOUS_VECTOR);
}

/* Every CPU loads the one table into its own IDTR. */
static void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* An exception: say which CPU, which vector, the error code and RIP,
 * then power off with 0x80 + the vector. Without the console's lock:
 * this CPU may hold it already. */
static void __attribute__((noreturn)) exception_report(const struct frame *f)
{
	uart_puts("\ncpu ");
	putdec(this_cpu());
	uart_puts(": exception ");
	putdec(f->vector);
	uart_puts(", error code ");
	puthex(f->error, 4);
	uart_puts(", RIP ");
	puthex(f->rip, 16);
	uart_puts("\n");
	*(volatile uint8_t *)SYSREGS_POWER_OFF = 0x80 + f->vector;
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Every vector's stub calls this with the frame (guest/vectors.S). An
 * IPI is counted and ended with the local APIC's EOI; the spurious
 * interrupt wants no EOI. */
void interrupt_dispatch(struct frame *f)
{
	if (f->vector < 32)
		exception_report(f);
	if (f->vector == SPURIOUS_VECTOR)
		return;
	SHARED->ipis[this_cpu()]++;
	lapic_write(LAPIC_EOI, 0);
}

/* ------------------------------------------------------------------ */
/* Starting the application processors                                 */

/* What guest/trampoline.S reads at trampoline_params, in its copy. */
struct trampoline_params {
	uint64_t cr3;
	uint64_t stack;
	uint64_t entry;
	uint64_t cpu;
};

extern const char trampoline_start[], trampoline_end[], trampoline_params[];

static uint64_t stack_top(unsigned cpu)
{
	return STACK_TOP - (uint64_t)cpu * CPU_STACK_SIZE;
}

/* "cpu N: " and the rest of a greeting, under the console's lock. */
static void greet(unsigned cpu, const char *how)
{
	console_lock();
	uart_puts("cpu ");
	putdec(cpu);
	uart_puts(": up, APIC ID ");
	putdec(this_cpu());
	uart_puts(", stack top ");
	puthex(stack_top(cpu), 6);
	uart_puts(how);
	console_unlock();
}

/* Mark this CPU as started (in long mode), for the BSP and the host. */
static void mark_started(unsigned cpu)
{
	__asm__ volatile("lock orl %1, %0" : "+m"(SHARED->started) : "r"(1u << cpu) : "memory");
}

void ap_entry(unsigned cpu);

/* listing: cpu-start */
/* Copy the trampoline to its page and fill in its parameters for CPU
 * n: the BSP's page tables, n's stack, and ap_entry. */
static void trampoline_prepare(unsigned cpu)
{
	volatile uint8_t *page = (volatile uint8_t *)TRAMPOLINE;
	volatile struct trampoline_params *p;
	uint64_t cr3;

	for (long i = 0; i < trampoline_end - trampoline_start; i++)
		page[i] = trampoline_start[i];
	p = (volatile struct trampoline_params *)(page + (trampoline_params - trampoline_start));
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	p->cr3 = cr3;
	p->stack = stack_top(cpu);
	p->entry = (uint64_t)ap_entry;
	p->cpu = cpu;
}

/* Wake CPU n as Intel's MP start-up protocol says: INIT (the AP
 * resets, and waits for a SIPI), 10 ms, then a SIPI, 200 us, and a
 * second SIPI (an AP already started ignores it; the first may be
 * lost on old hardware). Then sleep until the AP, up, sends its IPI.
 * One AP at a time: they share the trampoline's parameters. */
void cpu_start(unsigned cpu)
{
	trampoline_prepare(cpu);
	console_lock();
	uart_puts("cpu 0: INIT, SIPI, SIPI to cpu ");
	putdec(cpu);
	uart_puts(" (vector ");
	puthex(SIPI_VECTOR, 2);
	uart_puts(": the trampoline at ");
	puthex(TRAMPOLINE, 4);
	uart_puts(")\n");
	console_unlock();
	lapic_send(cpu, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	delay_us(10000);
	lapic_send(cpu, ICR_STARTUP | SIPI_VECTOR);
	delay_us(200);
	lapic_send(cpu, ICR_STARTUP | SIPI_VECTOR);
	while (!(SHARED->started & (1u << cpu)))
		wait_for_interrupt();
}
/* end listing: cpu-start */

/* listing: ap-entry */
/* The 64-bit code of the trampoline calls this on the AP's own stack:
 * the AP loads the IDT, turns on its local APIC, greets, says it is up
 * (started, and an IPI to the BSP, which sleeps until then), and runs
 * the program's ap_main. */
void __attribute__((noreturn)) ap_entry(unsigned cpu)
{
	idt_load();
	lapic_enable();
	greet(cpu, ": real mode at 0x8000, then protected, then long mode\n");
	mark_started(cpu);
	ipi_send(0);
	ap_main(cpu);
	for (;;)
		__asm__ volatile("cli; hlt");
}
/* end listing: ap-entry */

/* The entry point: the host starts the BSP here, in long mode, with
 * interrupts off. Set up the IDT first (an exception before it would
 * be a triple fault), mask the PICs (this guest's interrupts come from
 * the local APICs), turn on the local APIC, greet, and run bsp_main.
 * When it returns, this CPU halts for good. */
void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	idt_init();
	idt_load();
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	lapic_enable();
	uart_init();
	greet(0, ": the bootstrap processor, in long mode from the host's start\n");
	mark_started(0);
	bsp_main();
	for (;;)
		__asm__ volatile("cli; hlt");
}
