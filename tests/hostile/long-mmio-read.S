/*
 * long-mmio-read: maps the 2 MiB just past RAM with a page-table entry
 * of its own (found by walking from CR3: PML4[0] -> PDPT[0] -> PD[1]),
 * then reads there: there is no memory behind the mapping, so KVM hands
 * the read to the host as KVM_EXIT_MMIO.
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
        mov     qword ptr [rbx + 8], 0x200083   /* PD[1]: 2 MiB at 0x200000, P W PS */
        invlpg  [0x200000]
        mov     eax, [0x200000]
        hlt
