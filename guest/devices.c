/*
 * devices.c: the guest of step 8, 64-bit, for long mode. It drives the
 * two devices the host emulates, as a small kernel's drivers would,
 * without interrupts (step 9 brings them): it polls.
 *
 *   - The UART at COM1 (ports 0x3f8 to 0x3ff): it checks the chip as
 *     Linux's 8250 driver does (scratch register, IER, FIFOs, loopback),
 *     sets 115200 baud and 8N1, prints "Hello, world!" byte by byte,
 *     each when the line status says the transmitter can take it, then
 *     answers every line it receives, until the input ends (the host
 *     drops the carrier, DCD) or nothing comes for IDLE_SECONDS.
 *   - The sysregs at physical 0xd0000000: it reads the ID with accesses
 *     of 1, 2, 4 and 8 bytes, writes the scratch register with each size,
 *     reads the host's clock, and at the end writes its exit code to
 *     POWER_OFF: 0 when every check passed.
 *
 * Freestanding: no libc, no startup files. The host sets the stack
 * pointer and starts the vCPU at _start, the first byte of the binary.
 */
#include <stdint.h>

#define RESULT         42

/* Where the host looks for the 42 (see guest/guest.ld). */
extern volatile uint32_t guest_result;

/* The UART: COM1's ports, and the registers' offsets and bits (the host,
 * steps/step8.c, draws each register). */
#define COM1           0x3f8
#define UART_RBR       0       /* receive buffer (read, DLAB=0) */
#define UART_THR       0       /* transmit holding (write, DLAB=0) */
#define UART_DLL       0       /* divisor latch, low byte (DLAB=1) */
#define UART_IER       1       /* interrupt enable (DLAB=0) */
#define UART_DLM       1       /* divisor latch, high byte (DLAB=1) */
#define UART_IIR       2       /* interrupt identity (read) */
#define UART_FCR       2       /* FIFO control (write) */
#define UART_LCR       3       /* line control */
#define UART_MCR       4       /* modem control */
#define UART_LSR       5       /* line status */
#define UART_MSR       6       /* modem status */
#define UART_SCR       7       /* scratch */

#define IER_THRI       0x02    /* interrupt when THR is empty */
#define FCR_ENABLE     0x01
#define FCR_CLEAR_RX   0x02
#define FCR_CLEAR_TX   0x04
#define LCR_8N1        0x03    /* 8 data bits, no parity, 1 stop bit */
#define LCR_DLAB       0x80    /* offsets 0 and 1 are the divisor latch */
#define MCR_DTR        0x01
#define MCR_RTS        0x02
#define MCR_OUT2       0x08
#define MCR_LOOP       0x10
#define LSR_DR         0x01    /* a received byte is waiting */
#define LSR_OE         0x02    /* overrun: a received byte was lost */
#define LSR_THRE       0x20    /* THR can take a byte */
#define MSR_DCD        0x80    /* carrier detect: more input may come */

/* The sysregs: a page of registers at this physical address, which the
 * host's page tables map at the same virtual address. */
#define SYSREGS        0xd0000000UL
#define SYSREGS_ID     (SYSREGS + 0x00)
#define SYSREGS_CLOCK  (SYSREGS + 0x08)
#define SYSREGS_SCRATCH (SYSREGS + 0x10)
#define SYSREGS_POWER_OFF (SYSREGS + 0x18)

/* How long the guest waits for a line before it gives up. */
#define IDLE_SECONDS   5
#define NS_PER_SECOND  1000000000UL

/* What uart_getc returns when no byte will come. */
#define INPUT_CLOSED   (-1)
#define INPUT_IDLE     (-2)

/* One byte out to an I/O port, one byte in: each is a VM exit. */
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

/* listing: mmio-access */
/* Reads and writes of a device register in memory: a plain mov to or
 * from an address where there is no RAM, each a VM exit
 * (KVM_EXIT_MMIO). volatile makes the compiler do each access, once,
 * with exactly this size, in this order: a device is not memory. */
static uint8_t mmio_read8(uintptr_t address)
{
	return *(volatile uint8_t *)address;
}

static uint16_t mmio_read16(uintptr_t address)
{
	return *(volatile uint16_t *)address;
}

static uint32_t mmio_read32(uintptr_t address)
{
	return *(volatile uint32_t *)address;
}

static uint64_t mmio_read64(uintptr_t address)
{
	return *(volatile uint64_t *)address;
}

static void mmio_write8(uintptr_t address, uint8_t value)
{
	*(volatile uint8_t *)address = value;
}

static void mmio_write16(uintptr_t address, uint16_t value)
{
	*(volatile uint16_t *)address = value;
}

static void mmio_write32(uintptr_t address, uint32_t value)
{
	*(volatile uint32_t *)address = value;
}

static void mmio_write64(uintptr_t address, uint64_t value)
{
	*(volatile uint64_t *)address = value;
}
/* end listing: mmio-access */

/* listing: uart-driver */
/* Set the UART up: no interrupts (we poll), 115200 baud (the divisor
 * latch: 115200 / 1), 8N1, FIFOs on and empty, and the modem lines
 * a PC driver raises (DTR, RTS and OUT2, which on a PC gates the
 * interrupt line). */
static void uart_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
	outb(COM1 + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
}

/* Send one byte: wait until the line status says THR can take it. */
static void uart_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		;
	outb(COM1 + UART_THR, c);
}

/* Wait for a received byte until the clock passes deadline (in ns).
 * Returns the byte, or INPUT_CLOSED when the carrier (DCD) is down and
 * nothing is left, or INPUT_IDLE at the deadline. MSR is read before
 * LSR: the host drops DCD only after the last byte is in the FIFO, so
 * a byte that came before the drop is seen. */
static int uart_getc(uint64_t deadline)
{
	for (;;) {
		uint8_t msr = inb(COM1 + UART_MSR);

		if (inb(COM1 + UART_LSR) & LSR_DR)
			return inb(COM1 + UART_RBR);
		if (!(msr & MSR_DCD))
			return INPUT_CLOSED;
		if (mmio_read64(SYSREGS_CLOCK) > deadline)
			return INPUT_IDLE;
	}
}
/* end listing: uart-driver */

/* Print a NUL-terminated string through the UART. */
static void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

/* Print a number in hexadecimal with a 0x prefix, digits digits. */
static void puthex(uint64_t value, int digits)
{
	uart_puts("0x");
	for (int i = digits - 1; i >= 0; i--)
		uart_putc("0123456789abcdef"[(value >> (4 * i)) & 0xf]);
}

/* Print a number in decimal. */
static void putdec(uint64_t value)
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

/* How many checks failed: the exit code the guest powers off with. */
static int failures;

/* Print a check's name and "ok", or "FAILED" and count it. */
static void report(const char *name, int ok)
{
	uart_puts(name);
	uart_puts(ok ? " ok" : " FAILED");
	if (!ok)
		failures++;
}

/* listing: uart-checks */
/* The checks Linux's 8250 driver makes before it believes there is a
 * 16550A at a port (autoconfig() in drivers/tty/serial/8250/8250_port.c),
 * and two more. Each returns 1 when the UART passes. */

/* The scratch register keeps what is written to it. */
static int uart_check_scratch(void)
{
	outb(COM1 + UART_SCR, 0xa5);
	if (inb(COM1 + UART_SCR) != 0xa5)
		return 0;
	outb(COM1 + UART_SCR, 0x5a);
	return inb(COM1 + UART_SCR) == 0x5a;
}

/* IER's low four bits read back as written: 0, then 0x0f. */
static int uart_check_ier(void)
{
	uint8_t none, all;

	outb(COM1 + UART_IER, 0);
	none = inb(COM1 + UART_IER) & 0x0f;
	outb(COM1 + UART_IER, 0x0f);
	all = inb(COM1 + UART_IER) & 0x0f;
	outb(COM1 + UART_IER, 0);
	return none == 0 && all == 0x0f;
}

/* With FIFOs enabled, IIR's bits 7:6 read 11: a 16550A (00 is an
 * 8250 or 16450 without FIFOs, 10 the first 16550's broken ones). */
static int uart_check_fifos(uint8_t *iir)
{
	outb(COM1 + UART_FCR, FCR_ENABLE);
	*iir = inb(COM1 + UART_IIR);
	return *iir >> 6 == 3;
}

/* Enabling the "THR empty" interrupt while THR is empty makes IIR name
 * it (0xc2), and reading IIR clears it again (0xc1). */
static int uart_check_thre_iir(uint8_t *iir)
{
	uint8_t after;

	outb(COM1 + UART_IER, IER_THRI);
	*iir = inb(COM1 + UART_IIR);
	after = inb(COM1 + UART_IIR);
	outb(COM1 + UART_IER, 0);
	return *iir == 0xc2 && after == 0xc1;
}

/* Loopback with RTS and OUT2 raised: MSR's lines read CTS and DCD,
 * 0x90 in bits 7:4, as the chip wires them. Stays in loopback. */
static int uart_check_loopback(uint8_t *msr)
{
	outb(COM1 + UART_MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
	*msr = inb(COM1 + UART_MSR) & 0xf0;
	return *msr == 0x90;
}

/* In loopback, bytes written to THR come back in RBR, in order. */
static int uart_check_echo(const char *text)
{
	for (const char *c = text; *c; c++)
		outb(COM1 + UART_THR, *c);
	for (const char *c = text; *c; c++) {
		if (!(inb(COM1 + UART_LSR) & LSR_DR) || inb(COM1 + UART_RBR) != *c)
			return 0;
	}
	return !(inb(COM1 + UART_LSR) & LSR_DR);
}

/* In loopback, 17 bytes into a 16-byte FIFO: the 17th is lost, and LSR
 * says so (OE) once: 16 bytes come back. */
static int uart_check_overrun(void)
{
	int count = 0;

	for (int i = 0; i < 17; i++)
		outb(COM1 + UART_THR, 'a' + i);
	if (!(inb(COM1 + UART_LSR) & LSR_OE) || (inb(COM1 + UART_LSR) & LSR_OE))
		return 0;
	while ((inb(COM1 + UART_LSR) & LSR_DR) && count < 32) {
		inb(COM1 + UART_RBR);
		count++;
	}
	return count == 16;
}
/* end listing: uart-checks */

/* Run the UART's checks, before anything is received from the host
 * (whose bytes would otherwise mix with the looped-back ones), then
 * leave loopback with empty FIFOs. Prints the results. */
static void uart_checks(void)
{
	uint8_t iir, thre_iir, msr;
	int scratch = uart_check_scratch(), ier = uart_check_ier();
	int fifos = uart_check_fifos(&iir), thre = uart_check_thre_iir(&thre_iir);
	int loop = uart_check_loopback(&msr), echo = uart_check_echo("kvm");
	int overrun = uart_check_overrun();

	outb(COM1 + UART_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
	outb(COM1 + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	inb(COM1 + UART_MSR);           /* clear the changes leaving loopback made */
	uart_puts("Hello, world!\n");
	report("uart: scratch", scratch);
	report(", IER", ier);
	report(", FIFOs", fifos);
	uart_puts(" (IIR ");
	puthex(iir, 2);
	report("), THR-empty in IIR", thre);
	uart_puts(" (");
	puthex(thre_iir, 2);
	uart_puts(")\n");
	report("uart: loopback", loop);
	uart_puts(" (MSR ");
	puthex(msr, 2);
	report("), echo", echo);
	report(", overrun", overrun);
	uart_puts("\n");
}

/* listing: sysregs-checks */
/* The sysregs: the ID read with each size (each must give the first
 * bytes of the 8-byte one), the scratch register written with each size
 * and read back, and the host's clock. */
static void sysregs_checks(void)
{
	uint64_t id8 = mmio_read64(SYSREGS_ID);
	uint32_t id4 = mmio_read32(SYSREGS_ID);
	uint16_t id2 = mmio_read16(SYSREGS_ID);
	uint8_t id1 = mmio_read8(SYSREGS_ID);
	char id[9];
	uint64_t scratch, seconds;

	for (int i = 0; i < 8; i++)
		id[i] = id8 >> (8 * i);
	id[8] = '\0';
	uart_puts("sysregs: ID \"");
	uart_puts(id);
	report("\" read as 8, 4, 2 and 1 bytes:", (uint32_t)id8 == id4 &&
	       (uint16_t)id8 == id2 && (uint8_t)id8 == id1);
	uart_puts("\n");

	mmio_write64(SYSREGS_SCRATCH, 0x0123456789abcdefUL);
	mmio_write8(SYSREGS_SCRATCH + 1, 0x11);
	mmio_write16(SYSREGS_SCRATCH + 2, 0x2222);
	mmio_write32(SYSREGS_SCRATCH + 4, 0x33333333);
	scratch = mmio_read64(SYSREGS_SCRATCH);
	uart_puts("sysregs: SCRATCH written as 8, 1, 2 and 4 bytes reads ");
	puthex(scratch, 16);
	report(":", scratch == 0x33333333222211efUL);
	uart_puts("\n");

	seconds = mmio_read64(SYSREGS_CLOCK) / NS_PER_SECOND;
	uart_puts("sysregs: the host's clock says ");
	putdec(seconds);
	uart_puts(" s since 1970\n");
}
/* end listing: sysregs-checks */

/* Upper-case a byte, and replace one that does not print by a dot. */
static char shout(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 'A';
	return c >= 0x20 && c < 0x7f ? c : '.';
}

/* listing: answer-lines */
/* Answer each line received, until the input ends or nothing comes for
 * IDLE_SECONDS (the host's standard input may be a terminal where
 * nobody types: the guest must not wait for ever). A line longer than
 * the buffer is answered by its first bytes and its length. */
static void answer_lines(void)
{
	char line[64];
	int c = 0, n = 0, length = 0;

	uart_puts("Type a line and the guest answers (it waits 5 s; Ctrl-D ends the input):\n");
	while (c >= 0) {
		c = uart_getc(mmio_read64(SYSREGS_CLOCK) + IDLE_SECONDS * NS_PER_SECOND);
		if (c >= 0 && c != '\n') {
			if (n < (int)sizeof(line))
				line[n++] = c;
			length++;
			continue;
		}
		if (c == '\n' || length > 0) {
			uart_puts("You typed ");
			putdec(length);
			uart_puts(" bytes: ");
			for (int i = 0; i < n; i++)
				uart_putc(shout(line[i]));
			uart_puts(length > n ? "...\n" : "\n");
		}
		n = length = 0;
	}
	if (c == INPUT_CLOSED)
		uart_puts("The input is closed (the host dropped DCD, carrier detect): goodbye.\n");
	else
		uart_puts("Nothing came for 5 s: goodbye.\n");
}
/* end listing: answer-lines */

/* listing: guest-main */
/* The entry point: the host starts the vCPU here, with the stack set.
 * The section puts it first in the binary (see guest.ld). The guest
 * ends by writing its exit code to POWER_OFF; should the host let it
 * go on, it halts. */
void __attribute__((section(".text.start"), noreturn)) _start(void)
{
	uart_init();
	uart_checks();
	sysregs_checks();
	answer_lines();
	guest_result = RESULT;
	mmio_write8(SYSREGS_POWER_OFF, failures);
	for (;;)
		__asm__ volatile("hlt");
}
/* end listing: guest-main */
