/*
 * guest.S: the guest of exercise 04-decimal, 16-bit real mode, started at
 * 0000:1000 like step 4's guest/real16.S with every segment register 0.
 *
 * It says hello, then prints each number of the host's table at 0x500
 * (a 16-bit count, then the 16-bit numbers) as "number: N" on a line of
 * its own, stores 42 at 0x400 and halts with 42 in AX. Printing a number
 * in decimal is your part: print_decimal, at the end.
 */
        .code16
        .intel_syntax noprefix

        .equ CONSOLE_PORT, 0xe9     /* the Bochs/QEMU "debug console" port */
        .equ RESULT_ADDR, 0x400     /* where the host looks for the 42 */
        .equ NUMBERS_ADDR, 0x500    /* the host's table of numbers */

        .section .text.start, "ax"
        .global _start
_start:
        mov     si, offset hello
        call    print_string
        mov     bx, NUMBERS_ADDR
        mov     cx, [bx]            /* cx = how many numbers */
next_number:
        jcxz    done
        add     bx, 2
        mov     si, offset label
        call    print_string
        mov     ax, [bx]
        call    print_decimal
        mov     al, '\n'
        out     CONSOLE_PORT, al
        dec     cx
        jmp     next_number
done:
        mov     word ptr [RESULT_ADDR], 42
        mov     ax, 42
        hlt                         /* KVM_EXIT_HLT: the host checks AX */
        jmp     done

/* print_string: print the NUL-terminated string at DS:SI, one "out" (one
 * VM exit) per byte. Changes AL and SI. */
print_string:
        lodsb                       /* al = [ds:si], si += 1 */
        test    al, al
        jz      1f
        out     CONSOLE_PORT, al
        jmp     print_string
1:      ret

/* print_decimal: print AX, an unsigned number from 0 to 65535, in
 * decimal: "0", "7", "65535", no leading zeros. The caller's loop keeps
 * its state in BX, CX and SI: give them back as they were. */
print_decimal:
        /* TODO(04): print AX in decimal, one digit per "out". */
        mov     al, '?'
        out     CONSOLE_PORT, al
        ret

        .section .rodata
hello:
        .asciz  "Hello, world!\n"
label:
        .asciz  "number: "

/* No executable stack for whatever links this object. */
        .section .note.GNU-stack, "", @progbits
