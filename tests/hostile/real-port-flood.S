/* real-port-flood: writes to the console port forever, one VM exit per
 * byte. Step 3 stops at the first exit; step 4 prints until the watchdog. */
        .code16
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     al, '!'
flood:
        out     0xe9, al
        jmp     flood
