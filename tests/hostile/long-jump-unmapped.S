/* long-jump-unmapped: jumps to 1 GiB, which the page tables do not map:
 * a page fault with no interrupt table to go to, a triple fault. */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     rax, 0x40000000
        jmp     rax
