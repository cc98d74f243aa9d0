/* prot-ram-edge: the first byte of a two-byte instruction (0x0f) in the
 * last byte of RAM, then a jump to it: the instruction runs off the end
 * of guest memory, and a host showing the code at RIP must stop there. */
        .code32
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     eax, 0x1fffff
        mov     byte ptr [eax], 0x0f
        jmp     eax
