/*
 * poweroff64: 64-bit code for step8 (run with --guest). It writes 3 to
 * the sysregs' POWER_OFF register (0xd0000018) with a 4-byte store:
 * the run ends there, and a guest's exit code other than 0 is status 1.
 */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     eax, 0xd0000018
        mov     dword ptr [rax], 3
        hlt
