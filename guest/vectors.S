/*
 * vectors.S: the entry points of step 9's interrupt handlers, one per
 * vector the guest's IDT fills (guest/interrupts.c): the 32 exceptions
 * and the 16 lines of the two PICs, at vectors 0x20 to 0x2f.
 *
 * When an interrupt or exception arrives in 64-bit mode, the CPU aligns
 * the stack to 16 bytes, pushes five words and, for some exceptions, an
 * error code, then jumps to the gate's address with IF cleared (an
 * interrupt gate). Each stub below pushes a 0 where the CPU pushed no
 * error code, then its vector, so every frame has the same shape:
 *
 *   higher addresses
 *   +-------------+
 *   | SS          |  pushed by the CPU
 *   | RSP         |  (the interrupted code's stack)
 *   | RFLAGS      |
 *   | CS          |
 *   | RIP         |  where to return: iretq pops these five
 *   | error code  |  the CPU's, or the stub's 0
 *   | vector      |  the stub's
 *   | rax ... r11 |  saved by common: the registers C may change
 *   +-------------+  <- RSP: struct frame's address, for C
 *
 * The stubs save only the caller-saved registers: the C function saves
 * the others itself if it uses them, as any C function does.
 */
        .code64
        .text

/* listing: vector-stubs */
/* A stub for a vector where the CPU pushes no error code, and one for a
 * vector where it does (8 #DF, 10 #TS, 11 #NP, 12 #SS, 13 #GP, 14 #PF,
 * 17 #AC, 21 #CP, 29 #VC, 30 #SX). */
        .macro  stub vector
        .align  16
        pushq   $0
        pushq   $\vector
        jmp     common
        .endm

        .macro  stub_error vector
        .align  16
        pushq   $\vector
        jmp     common
        .endm

/* Every stub is 16 bytes from the one before (.align 16): the C code
 * finds vector N's at vector_stubs + 16 * N, N from 0 to 47 (vectors
 * 0x20 to 0x2f are stubs 32 to 47). */
        .global vector_stubs
        .align  16
vector_stubs:
        stub 0
        stub 1
        stub 2
        stub 3
        stub 4
        stub 5
        stub 6
        stub 7
        stub_error 8
        stub 9
        stub_error 10
        stub_error 11
        stub_error 12
        stub_error 13
        stub_error 14
        stub 15
        stub 16
        stub_error 17
        stub 18
        stub 19
        stub 20
        stub_error 21
        stub 22
        stub 23
        stub 24
        stub 25
        stub 26
        stub 27
        stub 28
        stub_error 29
        stub_error 30
        stub 31
        .irp    vector, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        stub    \vector
        .endr

/* Save the registers C may change, call interrupt_dispatch(frame),
 * restore them, drop the vector and error code, and return to the
 * interrupted code with iretq (which also restores RFLAGS, and with it
 * IF). Nine pushes after the seven words of the frame: RSP is a
 * multiple of 16 again at the call, as the ABI wants. */
common:
        pushq   %rax
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        cld
        movq    %rsp, %rdi
        call    interrupt_dispatch
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rax
        addq    $16, %rsp
        iretq
/* end listing: vector-stubs */

        .section .note.GNU-stack, "", @progbits
