/*
 * long-gdt-overwrite: finds the host's GDT with sgdt, fills it with 0xff
 * bytes and reloads SS from it: the descriptor is garbage, #GP, and with
 * no interrupt table a triple fault.
 */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        sub     rsp, 16
        sgdt    [rsp]
        mov     rdi, [rsp + 2]          /* the GDT's base */
        movzx   ecx, word ptr [rsp]     /* its limit */
        inc     ecx
        mov     al, 0xff
        cld
        rep stosb
        mov     ax, 0x10
        mov     ss, ax
        hlt
