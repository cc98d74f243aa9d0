/*
 * mmio-unclaimed64: 64-bit code for step8 (run with --guest). It reads
 * 8 bytes at 0xd0001000: step 8's page tables map that address (the
 * devices' 2 MiB page), and there is no RAM behind it, so the read is a
 * KVM_EXIT_MMIO; but the sysregs claim only the 4 KiB below it, and no
 * other device claims it: the run ends, and the step says so.
 */
        .code64
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     eax, 0xd0001000
        mov     rax, [rax]
        hlt
