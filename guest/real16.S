/*
 * real16.S: the step 4 guest, 16-bit real mode.
 *
 * It starts at 0000:1000 with every segment register 0, so an address
 * is just an offset. It asks the host whether a console answers on port
 * 0xE9, prints "Hello, world!" there one byte at a time, stores 42 at
 * guest-physical 0x400 and halts with 42 in AX: one VM exit per byte,
 * then KVM_EXIT_HLT.
 */
        .code16
        .intel_syntax noprefix

        .equ CONSOLE_PORT, 0xe9     /* the Bochs/QEMU "debug console" port */
        .equ RESULT_ADDR, 0x400     /* where the host looks for the 42 */

        .section .text.start, "ax"
        .global _start
_start:
/* listing: probe */
        /* Reading the console port returns 0xE9 when a console is there
         * (the Bochs convention). The host answers this "in" itself. */
        in      al, CONSOLE_PORT
        cmp     al, CONSOLE_PORT
        jne     no_console
/* end listing: probe */

/* listing: print */
        mov     si, offset message
print:
        lodsb                       /* al = [ds:si], si += 1 */
        test    al, al
        jz      printed
        out     CONSOLE_PORT, al    /* one byte, one VM exit */
        jmp     print
printed:
/* end listing: print */

/* listing: result */
        mov     word ptr [RESULT_ADDR], 42
        mov     ax, 42
        hlt                         /* KVM_EXIT_HLT: the host checks AX */
/* end listing: result */
        jmp     printed

no_console:
        /* Nobody to talk to: halt with 0xdead so the host sees it. */
        mov     ax, 0xdead
        hlt
        jmp     no_console

        .section .rodata
message:
        .asciz  "Hello, world!\n"
