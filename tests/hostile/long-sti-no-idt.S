/*
 * long-sti-no-idt: for step 9. Starts the PIT (100 Hz) and enables
 * interrupts without loading an IDT (the host starts it with IDTR's
 * limit 0): the first tick cannot be delivered (#GP), nor that fault,
 * nor the double fault: a triple fault, which step 9 explains by the
 * missing IDT. A write to the UART's scratch register after sti is an
 * exit, where a KVM that resets the vCPU on shutdown sees IF set.
 */
        .code64
        .intel_syntax noprefix
#include "idt64.inc"
        .section .text.start, "ax"
        .global _start
_start:
        pit_start 11932
        sti
        mov     dx, 0x3ff
        out     dx, al
1:      hlt
        jmp     1b
