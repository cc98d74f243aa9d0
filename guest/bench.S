/*
 * bench.S: step 13's guest, the exits to be measured. The host starts it
 * at its first byte, in 64-bit long mode, once per batch, with:
 *
 *   rdi  which exit to make (BENCH_* below, the same numbers as step13.c)
 *   rsi  how many times (at least 1)
 *   r8   where to store the samples: one 64-bit count of TSC cycles per
 *        exit, from just before it to just after (guest-physical = virtual)
 *   r10  the address of the register for the MMIO write
 *   r11  the address of the doorbell for the notify
 *
 * Each exit is bracketed by rdtsc, which reads the processor's time-stamp
 * counter without leaving the guest. lfence keeps rdtsc in order with the
 * instructions around it, so the count covers the exit and nothing else.
 * After the last one the guest writes to the "done" port (BENCH_DONE_PORT):
 * the host's KVM_RUN returns, and it reads the samples.
 *
 * KVM, step by step, chapter 13.
 */

/* Which exit: rdi's value. Step 13's enum bench_kind has the same. */
#define BENCH_PIO_USER     0    /* out to a port the host handles */
#define BENCH_MMIO_USER    1    /* a write where there is no RAM: MMIO */
#define BENCH_PIO_KERNEL   2    /* in from the PIC's mask register: KVM's */
#define BENCH_CPUID        3    /* cpuid: always handled by KVM */
#define BENCH_NOTIFY       4    /* a doorbell write: to us, or an ioeventfd */

#define BENCH_USER_PORT    0x500
#define BENCH_DONE_PORT    0x501
#define PIC1_DATA          0x21 /* the master PIC's interrupt mask */

        .code64
        .section .text.start, "ax"
        .global _start
_start:
        cmpq    $BENCH_PIO_USER, %rdi
        je      pio_user
        cmpq    $BENCH_MMIO_USER, %rdi
        je      mmio_user
        cmpq    $BENCH_PIO_KERNEL, %rdi
        je      pio_kernel
        cmpq    $BENCH_CPUID, %rdi
        je      cpuid_loop
        cmpq    $BENCH_NOTIFY, %rdi
        je      notify
        jmp     done            /* an unknown kind: nothing measured */

/*
 * Around each exit: TSC_START reads the time-stamp counter into r9
 * (rdtsc leaves its low half in eax and its high half in edx); TSC_END
 * reads it again, stores the difference at (r8), moves r8 on by 8, and
 * loops back to label while rsi, the count, is not down to 0. What
 * lies between them may use rax, rbx, rcx and rdx, not the others.
 */
.macro TSC_START
        lfence
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        movq    %rax, %r9
        lfence
.endm

.macro TSC_END label
        lfence
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        subq    %r9, %rax
        movq    %rax, (%r8)
        addq    $8, %r8
        decq    %rsi
        jnz     \label
        jmp     done
.endm

/* listing: bench-exits */
/* Out to a port: KVM_EXIT_IO, which KVM hands to the host. */
pio_user:
        TSC_START
        movw    $BENCH_USER_PORT, %dx
        outb    %al, %dx
        TSC_END pio_user

/* A write where there is no RAM: KVM_EXIT_MMIO, after KVM has decoded
 * the instruction. */
mmio_user:
        TSC_START
        movl    %eax, (%r10)
        TSC_END mmio_user

/* In from the PIC, which KVM emulates in the kernel: an exit that never
 * reaches the host's program. */
pio_kernel:
        TSC_START
        inb     $PIC1_DATA, %al
        TSC_END pio_kernel

/* cpuid: the processor always exits to KVM for it, and KVM answers. */
cpuid_loop:
        TSC_START
        xorl    %eax, %eax
        xorl    %ecx, %ecx
        cpuid
        TSC_END cpuid_loop

/* The doorbell: to the host as KVM_EXIT_MMIO, or, when the host has
 * registered an ioeventfd for it, a counter KVM bumps in the kernel. */
notify:
        TSC_START
        movl    %eax, (%r11)
        TSC_END notify
/* end listing: bench-exits */

/* The batch is over: tell the host, which starts the next one afresh. */
done:
        movw    $BENCH_DONE_PORT, %dx
        outb    %al, %dx
        hlt
        jmp     done
