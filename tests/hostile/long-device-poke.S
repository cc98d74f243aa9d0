/*
 * long-device-poke: pokes every register of step 8's devices with every
 * size they take. Each of COM1's ports 0x3f8 to 0x3ff gets out and in
 * of 1, 2 and 4 bytes (where the access fits in the eight ports) with
 * values that set every bit (DLAB, loopback, FIFOs on and off), then
 * string I/O of 64 bytes in and out; each of the sysregs' first 0x40
 * bytes gets reads and writes of 1, 2, 4 and 8 bytes (but POWER_OFF,
 * 0x18 to 0x1f), and the last 8 bytes of its page too. Then it writes 7
 * to POWER_OFF: the run must end there, with exit code 7, status 1.
 */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        /* The UART: for each value, each port, each size that fits. */
        lea     rsi, [rip + values]
next_value:
        movzx   eax, byte ptr [rsi]
        imul    eax, eax, 0x01010101    /* the byte in every lane */
        mov     dx, 0x3f8
port:
        out     dx, al
        in      al, dx
        cmp     dx, 0x3fe
        ja      port_done
        out     dx, ax
        in      ax, dx
        cmp     dx, 0x3fc
        ja      port_done
        out     dx, eax
        in      eax, dx
port_done:
        inc     dx
        cmp     dx, 0x400
        jne     port
        inc     rsi
        cmp     byte ptr [rsi], 0xaa    /* the end of the values */
        jne     next_value

        /* String I/O: 64 bytes out of RAM to THR, 64 bytes in from RBR. */
        mov     dx, 0x3f8
        mov     ecx, 64
        mov     esi, 0x1000
        cld
        rep outsb
        mov     ecx, 64
        mov     edi, 0x80000
        rep insb

        /* The sysregs: offsets 0 to 0x3f, every size, skipping 0x18-0x1f. */
        mov     ebx, 0xd0000000
        xor     ecx, ecx
sysreg:
        cmp     ecx, 0x18
        jb      poke
        cmp     ecx, 0x20
        jb      sysreg_next
poke:
        mov     al, [rbx + rcx]
        mov     ax, [rbx + rcx]
        mov     eax, [rbx + rcx]
        mov     rax, [rbx + rcx]
        mov     byte ptr [rbx + rcx], 0xff
        mov     word ptr [rbx + rcx], 0xffff
        mov     dword ptr [rbx + rcx], 0xffffffff
        mov     qword ptr [rbx + rcx], -1
sysreg_next:
        inc     ecx
        cmp     ecx, 0x40
        jne     sysreg
        mov     rax, [rbx + 0xff8]
        mov     qword ptr [rbx + 0xff8], -1

        /* The end: power off with exit code 7. */
        mov     qword ptr [rbx + 0x18], 7
        hlt

values:
        .byte   0x00, 0xff, 0x80, 0x10, 0x01, 0x07, 0x0f, 0x5a, 0x1f, 0xc7, 0x00
        .byte   0xaa
