/*
 * real-rep-outsb: "rep outsb" to the console with ECX = 0xffffffff, a
 * count of four billion bytes. In real mode ESI may not pass 0xffff: at
 * that point the CPU raises #GP (vector 13) with ECX holding the count
 * left, and our handler sets ESI back to 0 and returns into the same
 * rep outsb. The host sees an endless flood of output exits: only the
 * watchdog stops it, and the host must never read past its kvm_run page.
 */
        .code16
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     word ptr [13 * 4], offset gp_handler   /* IVT entry 13 */
        mov     word ptr [13 * 4 + 2], 0
        mov     dx, 0xe9
        mov     ecx, 0xffffffff
        xor     esi, esi
        cld
        .byte   0x67            /* addr32 (written as a byte: clang's
                                   assembler refuses the prefix here):
                                   ECX, ESI/EDI are the 32-bit registers */
        rep outsb
        hlt

gp_handler:
        xor     esi, esi
        iret
