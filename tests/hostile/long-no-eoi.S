/*
 * long-no-eoi: for step 9. An IDT whose timer handler returns without
 * the end of interrupt (EOI) to the PIC: the first tick stays "in
 * service" in the PIC, which then holds back IRQ 0 for ever. The guest
 * sleeps in hlt with interrupts on, and nothing wakes it: the watchdog
 * stops it, and step 9 finds the line in service (KVM_GET_IRQCHIP).
 */
        .code64
        .intel_syntax noprefix
#include "idt64.inc"
        .section .text.start, "ax"
        .global _start
_start:
        timer_guest 11932, tick

/* The timer's handler, which forgets out 0x20, 0x20. */
tick:
        iretq
