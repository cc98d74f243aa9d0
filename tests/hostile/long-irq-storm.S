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
        set_gate 0x20, tick
        load_idt
        pic_init
        pit_start 2
        sti
1:      hlt
        jmp     1b

tick:
        push    rax
        mov     al, 0x20
        out     0x20, al
        pop     rax
        iretq
