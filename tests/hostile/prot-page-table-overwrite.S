/*
 * prot-page-table-overwrite: fills the 4 KiB page at CR3 with
 * zeros (with paging on, that is the page directory: no entry is present
 * now), flushes the TLB by reloading CR3, and touches memory: a page
 * fault with no interrupt table to go to: a triple fault. Without
 * paging CR3 is 0, and the page it wipes holds the GDT of step 5: the
 * segment reload at the end faults the same way.
 */
        .code32
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     edi, cr3
        and     edi, 0xfffff000
        mov     ecx, 4096
        xor     eax, eax
        cld
        rep stosb
        mov     eax, cr3
        mov     cr3, eax                /* forget the old translations */
        mov     eax, [0x1000]
        mov     ax, 0x10
        mov     ds, ax
        hlt
