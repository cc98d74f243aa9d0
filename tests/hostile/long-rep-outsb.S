/*
 * long-rep-outsb: "rep outsb" to the console with RCX = 0xffffffff from
 * the start of RAM: a flood of output exits. On a KVM that exits once a
 * byte it runs until the watchdog; one that batches a page per exit may
 * reach the end of the mapped memory first (a page fault, and with no
 * interrupt table a triple fault). Either way the host reads only its
 * kvm_run page.
 */
        .code64
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
