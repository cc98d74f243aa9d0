/* long-unknown-in: reads port 0x60, which no device of ours answers. */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        in      al, 0x60
        hlt
