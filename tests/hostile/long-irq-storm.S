/*
 * long-irq-storm: for step 9. The PIT's channel 0 counts from 2: it
 * asks for 596591 interrupts a second (KVM caps the rate it really
 * delivers). Each is answered, with EOI, and the guest does nothing
 * else: the watchdog stops it, and step 9 names the storm from the
 * PIT's state (KVM_GET_PIT2).
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
        mov     al, 0x20
        out     0x20, al
        pop     rax
        iretq
