/* long-uart-wide: a 4-byte in from port 0x3fe, whose last two bytes
 * (0x400, 0x401) are past COM1's eight ports: no device claims the
 * whole access, and the run ends there. */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     dx, 0x3fe
        in      eax, dx
        hlt
