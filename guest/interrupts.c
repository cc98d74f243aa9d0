/*
 * interrupts.c: the small kernel of step 9's guests, 64-bit. It gives
 * the guest what a real kernel sets up first to be interrupted:
 *
 *   - an IDT, the table of the handlers for the 256 vectors, with gates
 *     for the exceptions (0 to 31) and for the PICs' lines (0x20 to
 *     0x2f), whose entry points are in guest/vectors.S;
 *   - the 8259A PIC, programmed to send its 8 lines to vectors 0x20 to
 *     0x27 (the in-kernel PIC: KVM emulates it, not the host program);
 *   - the PIT's channel 0 at 100 Hz on IRQ 0, whose interrupt counts
 *     ticks (the in-kernel PIT);
 *   - the UART at COM1, whose received bytes interrupt on IRQ 4 (the
 *     host's UART, which raises the line with KVM_IRQ_LINE);
 *   - handlers for the exceptions that report the vector, the error
 *     code, RIP and CR2, and power the machine off with 0x80 + vector.
 *
 * Then it enables interrupts and calls guest_main() (guest/echo.c, or a
 * test guest): what that returns is the exit code it powers off with.
 * Freestanding: no libc. The host starts the vCPU at _start, the first
 * byte of the binary, in long mode, with the stack set and no IDT.
 */
#include "interrupts.h"

/* Where the host looks for the results (guest/guest.ld puts them at
 * 0x400 to 0x420): the 42, the ticks counted, the host's clock at the
 * fifth (TICK_MARK) and at the last, and how many ticks from the fifth
 * on came out of time. */
extern volatile uint32_t guest_result;
extern volatile uint64_t guest_ticks, guest_mark_tick, guest_last_tick, guest_odd_ticks;
#define RESULT         42
#define TICK_MARK      5

/* The UART at COM1 (steps/step8.c draws its registers). */
#define COM1           0x3f8
#define UART_RBR       0
#define UART_THR       0
#define UART_DLL       0
#define UART_IER       1
#define UART_DLM       1
#define UART_IIR       2
#define UART_FCR       2
#define UART_LCR       3
#define UART_MCR       4
#define UART_LSR       5
#define UART_MSR       6
#define IER_RDI        0x01    /* interrupt: received data */
#define IER_MSI        0x08    /* interrupt: a modem line changed (DCD) */
#define IIR_NO_INT     0x01
#define IIR_ID         0x0e    /* the identity bits, 3:1 */
#define IIR_MSI        0x00
#define FCR_ENABLE     0x01
#define FCR_CLEAR_RX   0x02
#define FCR_CLEAR_TX   0x04
#define LCR_8N1        0x03
#define LCR_DLAB       0x80
#define MCR_DTR        0x01
#define MCR_RTS        0x02
#define MCR_OUT2       0x08    /* on a PC, gates the UART's line to the PIC */
#define LSR_DR         0x01
#define LSR_THRE       0x20
#define MSR_DCD        0x80

/* The sysregs (steps/step8.c). */
#define SYSREGS_CLOCK  0xd0000008UL
#define SYSREGS_POWER_OFF 0xd0000018UL

/* The two 8259A PICs: a command port and a data port each. */
#define PIC1_COMMAND   0x20
#define PIC1_DATA      0x21
#define PIC2_COMMAND   0xa0
#define PIC2_DATA      0xa1
#define PIC_EOI        0x20    /* OCW2: non-specific end of interrupt */
#define IRQ_BASE       0x20    /* IRQ n arrives at vector 0x20 + n */
#define IRQ_TIMER      0
#define IRQ_COM1       4
#define IRQ_SPURIOUS   7

/* The PIT: channel 0's counter and the mode register. Its input clock
 * runs at 1193182 Hz; channel 0 counts down from the divisor and raises
 * IRQ 0 each time it reaches 0. */
#define PIT_CHANNEL0   0x40
#define PIT_MODE       0x43
#define PIT_HZ         1193182
#define PIT_DIVISOR    ((PIT_HZ + TIMER_HZ / 2) / TIMER_HZ)   /* 11932 */

/* The code segment the host's GDT gives (steps/step9.c: GDT_CODE). */
#define KERNEL_CS      0x08

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

/* ------------------------------------------------------------------ */
/* Output: the UART, polled                                            */

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

uint64_t clock_ns(void)
{
	return *(volatile uint64_t *)SYSREGS_CLOCK;
}

/* ------------------------------------------------------------------ */
/* The IDT                                                             */

/* listing: idt-gate */
/*
 * One gate of the long-mode IDT: 16 bytes, the handler's 64-bit address
 * cut in three, the code segment to run it in, and its kind.
 *
 *  127                               96 95                              64
 * +-----------------------------------+----------------------------------+
 * |             reserved (0)          |        handler address 63:32     |
 * +-----------------------------------+----------------------------------+
 *  63              48 47 46 45 44 43  40 39   35 34  32 31             16
 * +------------------+--+-----+--+------+-------+------+----------------+
 * | address 31:16    |P | DPL |0 | type |   0   | IST  | selector       |
 * +------------------+--+-----+--+------+-------+------+----------------+
 *  15                                 0
 * +-----------------------------------+  (bits 15:0, below the selector)
 * | address 15:0                      |
 * +-----------------------------------+
 *
 * P: present (a vector without it raises #NP). DPL: the privilege an
 * int n instruction needs to use the gate (0: the kernel's only). type
 * 0xe: an interrupt gate, which clears IF on the way in, so a handler is
 * not interrupted in turn (0xf, a trap gate, leaves IF alone). IST 0:
 * the handler runs on the interrupted code's stack.
 */
struct idt_gate {
	uint16_t address_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attributes;        /* P, DPL, 0, type */
	uint16_t address_middle;
	uint32_t address_high;
	uint32_t reserved;
};

#define GATE_PRESENT   0x80
#define GATE_INTERRUPT 0x0e

static struct idt_gate idt[256] __attribute__((aligned(16)));

/* Point vector's gate at handler: an interrupt gate, in the kernel's
 * code segment, present. */
static void idt_set(int vector, uint64_t handler)
{
	struct idt_gate *g = &idt[vector];

	g->address_low = handler & 0xffff;
	g->selector = KERNEL_CS;
	g->ist = 0;
	g->type_attributes = GATE_PRESENT | GATE_INTERRUPT;
	g->address_middle = (handler >> 16) & 0xffff;
	g->address_high = handler >> 32;
	g->reserved = 0;
}
/* end listing: idt-gate */

/* The entry points of guest/vectors.S, 16 bytes apart. */
extern const char vector_stubs[];

/* listing: idt-load */
/* Fill the gates of the exceptions (0 to 31) and of the PICs' lines
 * (0x20 to 0x2f), then tell the CPU where the table is: lidt loads
 * IDTR with its limit (size - 1) and its address. The other vectors
 * stay not present. */
static void idt_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };

	for (int v = 0; v < 32; v++)
		idt_set(v, (uint64_t)(vector_stubs + 16 * v));
	for (int irq = 0; irq < 16; irq++)
		idt_set(IRQ_BASE + irq, (uint64_t)(vector_stubs + 16 * (32 + irq)));
	__asm__ volatile("lidt %0" : : "m"(idtr));
}
/* end listing: idt-load */

/* ------------------------------------------------------------------ */
/* The PIC and the PIT                                                 */

/* listing: pic-init */
/*
 * Program the two 8259A PICs: four initialization words each (ICW1 to
 * ICW4), then the mask (OCW1). At power-on the master sends IRQ n to
 * vector n, where the CPU's exceptions are: the first thing a PC kernel
 * does is move them, here to 0x20 to 0x27 (the slave's to 0x28).
 *
 *   ICW1 0x11  edge-triggered, cascaded, ICW4 follows
 *   ICW2       the vector of line 0 (a multiple of 8)
 *   ICW3       master: the slave is on line 2 (bit 2); slave: its id, 2
 *   ICW4 0x01  8086 mode, EOI sent by the handler
 *   OCW1       the mask: a 1 bit keeps that line quiet
 *
 * Only the timer (IRQ 0), the cascade (IRQ 2) and COM1 (IRQ 4) stay
 * unmasked.
 */
static void pic_init(void)
{
	outb(PIC1_COMMAND, 0x11);
	outb(PIC2_COMMAND, 0x11);
	outb(PIC1_DATA, IRQ_BASE);
	outb(PIC2_DATA, IRQ_BASE + 8);
	outb(PIC1_DATA, 1 << 2);
	outb(PIC2_DATA, 2);
	outb(PIC1_DATA, 0x01);
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, (uint8_t)~(1 << IRQ_TIMER | 1 << 2 | 1 << IRQ_COM1));
	outb(PIC2_DATA, 0xff);
}

/* The end of an interrupt: the PIC clears the line's bit in its
 * in-service register (ISR), and lets that line, and every line of
 * lower priority, interrupt again. Without it, the timer ticks once. */
static void pic_eoi(void)
{
	outb(PIC1_COMMAND, PIC_EOI);
}
/* end listing: pic-init */

/* listing: pit-init */
/*
 * Channel 0 of the PIT in mode 2, a rate generator: it counts down from
 * the divisor at 1193182 Hz and pulses IRQ 0 at each 0, again and again.
 * The mode register's bits:
 *
 *    7   6     5   4      3   2   1     0
 *  +-------+---------+-----------+-------+
 *  |channel| access  |   mode    |  BCD  |
 *  +-------+---------+-----------+-------+
 *   00     11: low byte, then high  010: rate generator   0: binary
 *
 * 0x34, then the divisor's two bytes: 1193182 / 11932 = 99.998 Hz.
 */
static void pit_init(void)
{
	outb(PIT_MODE, 0x34);
	outb(PIT_CHANNEL0, PIT_DIVISOR & 0xff);
	outb(PIT_CHANNEL0, PIT_DIVISOR >> 8);
}
/* end listing: pit-init */

/* ------------------------------------------------------------------ */
/* The UART, interrupting                                              */

/* The bytes the UART's interrupt received, for guest_main to take: a
 * ring the handler fills and input_get empties, with interrupts off
 * while it looks (the handler cannot run in the middle). */
#define RING_SIZE      64
static volatile uint8_t ring[RING_SIZE];
static volatile unsigned ring_head, ring_tail;
static volatile int input_closed;

/* listing: uart-init */
/* 115200 baud, 8N1, FIFOs on and empty (the trigger level 1 byte), the
 * interrupts for received data and for a modem line's change (the host
 * drops DCD when its input ends), and last the modem lines: OUT2, which
 * on a PC connects the UART's interrupt output to IRQ 4, and DTR, which
 * tells the other end that we are ready: the host sends nothing before. */
static void uart_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
	inb(COM1 + UART_MSR);           /* forget the changes so far */
	outb(COM1 + UART_IER, IER_RDI | IER_MSI);
	outb(COM1 + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
}
/* end listing: uart-init */

/* listing: uart-interrupt */
/* IRQ 4: ask IIR what the UART wants until it says nothing (NO_INT):
 * take every received byte (LSR's DR) into the ring, and read MSR when
 * a modem line changed, which clears that cause. On a PIC whose lines
 * are edge-triggered, leaving one cause pending would keep the line up:
 * no new edge, and no interrupt ever again. */
static void uart_interrupt(void)
{
	uint8_t iir;

	while (!((iir = inb(COM1 + UART_IIR)) & IIR_NO_INT)) {
		if ((iir & IIR_ID) == IIR_MSI) {
			if (!(inb(COM1 + UART_MSR) & MSR_DCD))
				input_closed = 1;
			continue;
		}
		while (inb(COM1 + UART_LSR) & LSR_DR) {
			uint8_t byte = inb(COM1 + UART_RBR);

			if (ring_head - ring_tail < RING_SIZE)
				ring[ring_head++ % RING_SIZE] = byte;
		}
	}
}
/* end listing: uart-interrupt */

int input_get(void)
{
	int byte = INPUT_NONE;

	__asm__ volatile("cli");
	if (ring_tail != ring_head)
		byte = ring[ring_tail++ % RING_SIZE];
	else if (input_closed)
		byte = INPUT_CLOSED;
	__asm__ volatile("sti");
	return byte;
}

/* ------------------------------------------------------------------ */
/* The handlers                                                        */

static volatile uint64_t ticks;
static volatile uint64_t halts;

uint64_t ticks_now(void)
{
	return ticks;
}

uint64_t idle_count(void)
{
	return halts;
}

/* listing: idle */
/* Sleep until an interrupt. sti enables interrupts only after the next
 * instruction, so none can slip in between the two: the one that wakes
 * us comes during hlt, not before it (which would sleep through it). */
void idle(void)
{
	halts++;
	__asm__ volatile("sti; hlt" : : : "memory");
}
/* end listing: idle */

/* IRQ 0, the PIT: one more tick. The host's clock at the fifth and at
 * the last are left for the host, which checks the rate. Not the first:
 * ticks due while the start's exits kept the vCPU busy come late, then
 * bunched (KVM's PIT delivers each one it owes). So does every tick due
 * while a busy host kept the vCPU from running: a tick more than half
 * a period early or late after the one before is counted as odd, which
 * tells the host that this happened. */
static void timer_interrupt(void)
{
	uint64_t now = clock_ns(), period = NS_PER_SECOND / TIMER_HZ, gap;

	ticks++;
	gap = now - guest_last_tick;
	if (ticks == TICK_MARK)
		guest_mark_tick = now;
	if (ticks >= TICK_MARK && (gap < period / 2 || gap > period + period / 2))
		guest_odd_ticks++;
	guest_last_tick = now;
	guest_ticks = ticks;
}

/* The exceptions' short names, by vector. */
static const char *const exception_names[32] = {
	[0] = "#DE divide error", [1] = "#DB debug", [2] = "NMI", [3] = "#BP breakpoint",
	[4] = "#OF overflow", [5] = "#BR bound range", [6] = "#UD invalid opcode",
	[7] = "#NM no FPU", [8] = "#DF double fault", [10] = "#TS invalid TSS",
	[11] = "#NP segment not present", [12] = "#SS stack fault",
	[13] = "#GP general protection", [14] = "#PF page fault", [16] = "#MF FPU error",
	[17] = "#AC alignment check", [18] = "#MC machine check", [19] = "#XM SIMD",
};

/* listing: exception-report */
/* An exception: say which, with the error code, where (RIP) and, for a
 * page fault, the address that faulted (CR2), then power off with
 * 0x80 + the vector. The guest does not go on: its code did something
 * it cannot recover from. */
static void __attribute__((noreturn)) exception_report(const struct frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	uart_puts("\nexception ");
	putdec(f->vector);
	uart_puts(" (");
	uart_puts(exception_names[f->vector] ? exception_names[f->vector] : "reserved");
	uart_puts("): error code ");
	puthex(f->error, 4);
	uart_puts(", RIP ");
	puthex(f->rip, 16);
	uart_puts(", CR2 ");
	puthex(cr2, 16);
	uart_puts("\n");
	*(volatile uint8_t *)SYSREGS_POWER_OFF = 0x80 + f->vector;
	for (;;)
		__asm__ volatile("cli; hlt");
}
/* end listing: exception-report */

/* listing: dispatch */
/* Every vector's stub calls this with the frame (guest/vectors.S). An
 * interrupt of the PIC is answered, then acknowledged with EOI: the
 * timer's and the UART's. IRQ 7 may be spurious (a line that dropped
 * before the CPU took it): the PIC wants no EOI for it. */
void interrupt_dispatch(struct frame *f)
{
	if (f->vector < 32)
		exception_report(f);
	if (f->vector == IRQ_BASE + IRQ_SPURIOUS)
		return;
	if (f->vector == IRQ_BASE + IRQ_TIMER)
		timer_interrupt();
	else if (f->vector == IRQ_BASE + IRQ_COM1)
		uart_interrupt();
	pic_eoi();
}
/* end listing: dispatch */

/* listing: guest-start */
/* The entry point: the host starts the vCPU here. Set up the IDT first
 * (an exception before it would be a triple fault), then the PIC, and
 * only then the devices that interrupt through it: initializing the
 * PIC resets its edge detection, and a line already up when that
 * happens interrupts no more (the 8259A's data sheet says so; KVM's
 * PIC does the same). Then enable interrupts, run guest_main, and power
 * off with its result. The 42 is the step's old sign of life. */
void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	int code;

	idt_init();
	pic_init();
	pit_init();
	uart_init();
	__asm__ volatile("sti");
	code = guest_main();
	guest_result = RESULT;
	*(volatile uint8_t *)SYSREGS_POWER_OFF = code;
	for (;;)
		__asm__ volatile("cli; hlt");
}
/* end listing: guest-start */
