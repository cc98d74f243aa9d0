/* long-jump-noncanonical: jumps to 0x8000000000000000, an address no
 * x86-64 CPU can hold in RIP (not canonical): #GP, then a triple fault. */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     rax, 0x8000000000000000
        jmp     rax
