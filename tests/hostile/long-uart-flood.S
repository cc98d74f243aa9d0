/* long-uart-flood: writes to the UART's THR (port 0x3f8) forever, never
 * looking at LSR, one VM exit per byte, until the watchdog stops it. */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     al, '@'
        mov     dx, 0x3f8
flood:
        out     dx, al
        jmp     flood
