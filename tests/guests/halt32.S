/*
 * halt32: 32-bit code that halts at once with 7 in EAX, for the steps
 * that run 32-bit code with --guest: they report the result, not judge it.
 */
        .code32
        .section .text.start, "ax"
        .global _start
_start:
        mov     $7, %eax
        hlt
