/*
 * long-fault-in-handler: for step 9. The handler of #UD (vector 6)
 * moves its stack to 0x300000, where nothing is mapped, and pushes: a
 * page fault inside a handler. Delivering it pushes onto that stack
 * too and faults again: a double fault, whose delivery faults once
 * more: a triple fault. Gates for #PF and #DF are there, and useless.
 * A write to the UART's scratch register after lidt is an exit, so
 * that a KVM that resets the vCPU on shutdown has seen the IDT.
 */
        .code64
        .intel_syntax noprefix
#include "idt64.inc"
        .section .text.start, "ax"
        .global _start
_start:
        set_gate 6, bad_handler
        set_gate 8, park
        set_gate 14, park
        load_idt
        mov     dx, 0x3ff
        mov     al, 0x55
        out     dx, al
        ud2

bad_handler:
        mov     rsp, 0x300000
        push    rax
        iretq

/* Never reached: every delivery needs the broken stack. */
park:
        cli
        hlt
        jmp     park
