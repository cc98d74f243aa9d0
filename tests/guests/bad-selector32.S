/*
 * bad-selector32: 32-bit code for step5 (run with --guest). It loads DS
 * with selector 0x18, GDT entry 3, past the end of the host's 3-entry
 * table: #GP, which with no interrupt table becomes a triple fault.
 */
        .code32
        .section .text.start, "ax"
        .global _start
_start:
        mov     $0x18, %ax
        mov     %ax, %ds                /* #GP: beyond the GDT's limit */
        hlt
