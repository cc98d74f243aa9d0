/*
 * real-rep-insb: "rep insb" from the console with ECX = 0xffffffff into
 * a buffer: the host answers four billion "in"s. When EDI passes 0xffff
 * the #GP handler sets it back to the buffer and returns into the same
 * instruction, so only the watchdog ends it.
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
        mov     edi, 0x8000
        cld
        .byte   0x67            /* addr32 (written as a byte: clang's
                                   assembler refuses the prefix here):
                                   ECX, ESI/EDI are the 32-bit registers */
        rep insb
        hlt

gp_handler:
        mov     edi, 0x8000
        iret
