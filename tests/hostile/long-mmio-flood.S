/* long-mmio-flood: reads the sysregs' CLOCK (0xd0000008) forever, one
 * KVM_EXIT_MMIO each, until the watchdog stops it. */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     ebx, 0xd0000008
flood:
        mov     rax, [rbx]
        jmp     flood
