/*
 * long-smp-init-only: for step 12. CPU 0 turns its local APIC on (SVR
 * at 0xfee000f0) and sends CPU 1 an INIT through it (the ICR at
 * 0xfee00300, the destination's APIC ID in 0xfee00310), and never the
 * start-up IPI (SIPI) that would start it, then waits for ever. CPU 1 stays in KVM_MP_STATE_INIT_RECEIVED:
 * the watchdog stops both, and step 12 says which waits for what.
 */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     edi, 0xfee00000             /* the local APIC's page */
        mov     dword ptr [rdi + 0xf0], 0x1ff   /* SVR: the APIC on */
        mov     dword ptr [rdi + 0x310], 1 << 24
        mov     dword ptr [rdi + 0x300], 0xc500 /* INIT, level, assert */
1:      pause
        jmp     1b
