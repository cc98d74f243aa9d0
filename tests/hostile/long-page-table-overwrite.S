/*
 * long-page-table-overwrite: fills the PML4 (the 4 KiB page at CR3) with
 * 0xff bytes, so every entry has reserved bits set, reloads CR3 to flush
 * the TLB and touches memory: a page fault with no interrupt table to go
 * to: a triple fault.
 */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     rdi, cr3
        and     rdi, -4096
        mov     ecx, 4096
        mov     al, 0xff
        cld
        rep stosb
        mov     rax, cr3
        mov     cr3, rax
        mov     eax, [0x1000]
        hlt
