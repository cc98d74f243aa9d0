/* long-clear-pae: clears CR4.PAE while in long mode, which the CPU
 * forbids: #GP, and with no interrupt table a triple fault. */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     rax, cr4
        and     eax, ~0x20
        mov     cr4, rax
        hlt
