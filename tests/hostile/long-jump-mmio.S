/*
 * long-jump-mmio: maps virtual 0x200000 (PD[1], found by walking from
 * CR3) to physical 0xfe000000, far beyond RAM, and jumps there. The page
 * tables say the address is fine; there is just no memory behind it to
 * fetch from. A host showing the code at RIP translates the address
 * (valid) and must then see that the physical address is not RAM.
 */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     rbx, cr3
        and     rbx, -4096
        mov     rbx, [rbx]              /* PML4[0] */
        and     rbx, -4096
        mov     rbx, [rbx]              /* PDPT[0] */
        and     rbx, -4096
        mov     eax, 0xfe000083         /* 2 MiB at 0xfe000000, P W PS */
        mov     [rbx + 8], rax          /* PD[1] */
        invlpg  [0x200000]
        mov     eax, 0x200000
        jmp     rax
