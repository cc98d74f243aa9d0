/* prot-port-flood: writes to the console port forever, one VM exit per
 * byte, until the watchdog stops it. */
        .code32
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     al, '#'
flood:
        out     0xe9, al
        jmp     flood
