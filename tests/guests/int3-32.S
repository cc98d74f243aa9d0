/*
 * int3-32: 32-bit code for step5 (run with --guest): a breakpoint, int3,
 * in kernel mode, with no interrupt table. A hardware KVM delivers it and
 * fails (#GP, #DF, triple fault: KVM_EXIT_SHUTDOWN); kvm_pvm cannot
 * emulate it (KVM_EXIT_INTERNAL_ERROR). Either way: status 1.
 */
        .code32
        .section .text.start, "ax"
        .global _start
_start:
        int3
        hlt
