/* real-unknown-in: reads port 0x60 (a PC's keyboard controller), which
 * no device of ours answers. */
        .code16
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        in      al, 0x60
        hlt
