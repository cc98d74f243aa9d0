/*
 * new-cr3-64: 64-bit code for step7 (run with --guest). It prints "!"
 * (one exit: the host's tables work), then loads CR3 with 0x180000, a
 * page of zeros: a PML4 that maps nothing. The next instruction fetch
 * is a page fault and, with no interrupt table, a triple fault: the
 * guest's own tables are to blame, not the host's.
 */
        .code64
        .section .text.start, "ax"
        .global _start
_start:
        mov     $'!', %al
        out     %al, $0xe9              /* an exit: the guest ran */
        mov     $0x180000, %eax         /* zero-extended to rax */
        mov     %rax, %cr3              /* an empty PML4 */
        hlt                             /* never fetched: #PF, triple fault */
