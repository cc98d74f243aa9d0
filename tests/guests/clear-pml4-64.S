/*
 * clear-pml4-64: 64-bit code for step7 (run with --guest). It breaks
 * its own paging before its first exit: it clears entry 0 of the PML4
 * the host built at 0x100000 (the entry that maps the low half, where
 * this code runs), then reloads CR3 so that the CPU drops the
 * translations it cached. The next instruction fetch is a page fault
 * and, with no interrupt table, a triple fault: the guest's own doing,
 * which the step must not blame on the host's tables.
 */
        .code64
        .section .text.start, "ax"
        .global _start
_start:
        mov     $0x100000, %eax         /* the PML4 (zero-extended to rax) */
        movq    $0, (%rax)              /* PML4[0] = 0: the low half is gone */
        mov     %cr3, %rax
        mov     %rax, %cr3              /* flush the TLB */
        hlt                             /* never fetched: #PF, triple fault */
