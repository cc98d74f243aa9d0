/* loop-forever: a guest that never exits. Only the watchdog stops it. */
        .code16
        .section .text.start, "ax"
        .global _start
_start:
        jmp     _start
