/* unknown-port: writes 0x5a to port 0x1234, which no device answers. */
        .code16
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     dx, 0x1234
        mov     al, 0x5a
        out     dx, al
        hlt
