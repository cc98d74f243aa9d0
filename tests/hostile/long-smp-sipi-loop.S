/*
 * long-smp-sipi-loop: for step 12. CPU 0 writes a 16-bit jump to
 * itself (eb fe) at 0x9000, turns its local APIC on, then starts CPU 1
 * there: INIT, then a SIPI with vector 0x09 (CS:IP 0900:0000). CPU 1
 * runs, in real mode, for ever; CPU 0 waits for it for ever. The watchdog stops both, and step
 * 12 shows CPU 1's code at CS's base plus RIP: 0x9000, eb fe.
 */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     word ptr [0x9000], 0xfeeb   /* eb fe: jmp to itself */
        mov     edi, 0xfee00000             /* the local APIC's page */
        mov     dword ptr [rdi + 0xf0], 0x1ff   /* SVR: the APIC on */
        mov     dword ptr [rdi + 0x310], 1 << 24
        mov     dword ptr [rdi + 0x300], 0xc500 /* INIT, level, assert */
        mov     dword ptr [rdi + 0x310], 1 << 24
        mov     dword ptr [rdi + 0x300], 0x0609 /* SIPI: the page at 0x9000 */
1:      pause
        jmp     1b
