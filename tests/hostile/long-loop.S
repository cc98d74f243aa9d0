/* long-loop: a 64-bit guest that never exits: only the watchdog stops it. */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        jmp     _start
