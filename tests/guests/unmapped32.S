/*
 * unmapped32: 32-bit code for step6 (run with --guest). It reads from
 * virtual 0x800000 (8 MiB), which step 6's page tables do not map: a
 * page fault, which with no interrupt table becomes a triple fault.
 */
        .code32
        .section .text.start, "ax"
        .global _start
_start:
        mov     0x800000, %eax          /* #PF: no page table for 8 MiB */
        hlt
