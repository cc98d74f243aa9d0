/*
 * long-irq-storm-slow: for step 9. The storm of long-irq-storm, with a
 * handler that spins a long while before its EOI: the watchdog almost
 * always stops the guest inside the handler, with line 0 in service
 * and IF 0, as it once did by chance with the fast handler. Step 9
 * must still name the storm, not a missing EOI.
 */
        .code64
        .intel_syntax noprefix
#include "idt64.inc"
        .section .text.start, "ax"
        .global _start
_start:
        timer_guest 2, tick

tick:
        push    rax
        push    rcx
        mov     ecx, 100000000
1:      dec     ecx
        jnz     1b
        mov     al, 0x20
        out     0x20, al
        pop     rcx
        pop     rax
        iretq
