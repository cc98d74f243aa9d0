/*
 * guest.S: the guest of exercise 02-screen, 16-bit real mode, started at
 * 0000:1000 like step 4's guest/real16.S with every segment register 0.
 *
 * It writes two lines on the text screen at 0xB8000: each cell is a
 * character and a colour byte. ES = 0xB800 reaches it, since in real mode
 * an address is segment * 16 + offset. Then it says on the console that
 * it did, stores 42 at 0x400 and halts with 42 in AX. Nothing to change
 * here: your work is the host's memory, in step4.c.
 */
        .code16
        .intel_syntax noprefix

        .equ CONSOLE_PORT, 0xe9     /* the Bochs/QEMU "debug console" port */
        .equ RESULT_ADDR, 0x400     /* where the host looks for the 42 */
        .equ SCREEN_SEGMENT, 0xb800 /* 0xb800 * 16 = 0xb8000 */
        .equ ROW_BYTES, 160         /* 80 cells of 2 bytes */

        .section .text.start, "ax"
        .global _start
_start:
        cld
        mov     ax, SCREEN_SEGMENT
        mov     es, ax
        xor     di, di              /* row 0, column 0 */
        mov     si, offset line0
        mov     ah, 0x1f            /* white on blue */
        call    put_line
        mov     di, 2 * ROW_BYTES + 8   /* row 2, column 4 */
        mov     si, offset line2
        mov     ah, 0x0a            /* light green on black */
        call    put_line

        mov     si, offset done
print:
        lodsb
        test    al, al
        jz      printed
        out     CONSOLE_PORT, al    /* one byte, one VM exit */
        jmp     print
printed:
        mov     word ptr [RESULT_ADDR], 42
        mov     ax, 42
        hlt
        jmp     printed

/* put_line: the string at DS:SI onto the screen at ES:DI, in colour AH.
 * One stosw per cell: AL the character, AH the colour. */
put_line:
        lodsb
        test    al, al
        jz      1f
        stosw
        jmp     put_line
1:      ret

        .section .rodata
line0:
        .asciz  "Hello from the guest, on the screen at 0xB8000"
line2:
        .asciz  "No VM exit was needed to write this."
done:
        .asciz  "The guest wrote two lines on its screen.\n"

/* No executable stack for whatever links this object. */
        .section .note.GNU-stack, "", @progbits
