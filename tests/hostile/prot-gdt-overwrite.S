/*
 * prot-gdt-overwrite: finds the host's GDT with sgdt, fills it with
 * zeros, and reloads a data segment from it. A descriptor of zeros is not
 * present: #NP, which has no interrupt table to go to: a triple fault.
 */
        .code32
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        sub     esp, 8
        sgdt    [esp]
        mov     edi, [esp + 2]          /* the GDT's base */
        movzx   ecx, word ptr [esp]     /* its limit */
        inc     ecx
        xor     eax, eax
        cld
        rep stosb
        mov     ax, 0x10
        mov     ds, ax
        hlt
