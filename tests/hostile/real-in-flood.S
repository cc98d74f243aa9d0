/* real-in-flood: reads the console port forever: a flood of "in" exits
 * the host answers. Only the watchdog ends it in step 4. */
        .code16
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        in      al, 0xe9
        jmp     _start
