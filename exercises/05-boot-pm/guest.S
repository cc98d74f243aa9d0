/*
 * guest.S: the guest of exercise 05-boot-pm. The host starts it in real
 * mode at 0000:1000, every segment register 0, SP = 0xf000, and builds
 * nothing for it: no GDT, no protected mode. The guest gets there itself,
 * as a boot loader does (chapter 5's guest/boot16.S is one), then prints
 * the host's message from 0x180000, which no real-mode address reaches,
 * stores 42 at 0x400 and halts with 42 in EAX.
 */
        .intel_syntax noprefix

        .equ CONSOLE_PORT, 0xe9     /* the Bochs/QEMU "debug console" port */
        .equ RESULT_ADDR, 0x400     /* where the host looks for the 42 */
        .equ MESSAGE_ADDR, 0x180000 /* the host's message, above 1 MiB */
        .equ STACK_TOP, 0x200000    /* the top of guest memory (2 MiB) */

        .section .text.start, "ax"
        .global _start
        .code16
_start:
        mov     si, offset real_hello
        call    print16

        /* TODO(05): switch to 32-bit protected mode. Load the GDT (write
         * it in .rodata below), set CR0.PE, and far-jump to protected32
         * through a flat 32-bit code segment's selector. */
        mov     ax, 0xdead          /* still in real mode: the host says so */
        hlt
        jmp     _start

/* print16: the NUL-terminated string at DS:SI, one "out" per byte. */
print16:
        lodsb
        test    al, al
        jz      1f
        out     CONSOLE_PORT, al
        jmp     print16
1:      ret

        .code32
protected32:
        /* TODO(05): CS is a 32-bit code segment now. Load DS, ES, FS, GS
         * and SS with a flat data segment's selector, and ESP with
         * STACK_TOP. */
        mov     esi, MESSAGE_ADDR
        call    print32
        mov     dword ptr [RESULT_ADDR], 42
        mov     eax, 42
        hlt                         /* KVM_EXIT_HLT: the host checks EAX */
        jmp     protected32

/* print32: the NUL-terminated string at DS:ESI, one "out" per byte. */
print32:
        lodsb
        test    al, al
        jz      1f
        out     CONSOLE_PORT, al
        jmp     print32
1:      ret

        .section .rodata
real_hello:
        .asciz  "Hello from real mode. Switching to protected mode...\n"

/* No executable stack for whatever links this object. */
        .section .note.GNU-stack, "", @progbits
