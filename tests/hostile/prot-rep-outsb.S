/*
 * prot-rep-outsb: "rep outsb" to the console with ECX = 0xffffffff from
 * the start of RAM: a flood of output exits. On a KVM that exits once a
 * byte it runs until the watchdog; one that batches a page per exit may
 * reach the end of RAM first and stop at the first byte it cannot read
 * (an MMIO exit; with paging, a page fault and a triple fault). Either
 * way the host reads only its kvm_run page.
 */
        .code32
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     dx, 0xe9
        mov     ecx, 0xffffffff
        xor     esi, esi
        cld
        rep outsb
        hlt
