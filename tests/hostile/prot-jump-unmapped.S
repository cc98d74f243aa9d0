/* prot-jump-unmapped: jumps to 2 GiB, where there is no memory to
 * fetch instructions from. */
        .code32
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     eax, 0x80000000
        jmp     eax
