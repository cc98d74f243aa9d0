/* real-wide-console: writes a 16-bit word to the console port, which
 * only takes bytes. The host must refuse it, not print half of it. */
        .code16
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     dx, 0xe9
        mov     ax, 0x4142
        out     dx, ax
        hlt
