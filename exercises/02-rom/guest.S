/*
 * guest.S: the guest of exercise 02-rom, 16-bit real mode, started at
 * 0000:1000 like step 4's guest/real16.S with every segment register 0.
 *
 * It prints the message in the host's ROM at 0xF0000 (DS = 0xF000), tries
 * to overwrite it with a byte and a word, and prints it again: the same
 * message, if the ROM is read-only. Then it stores 42 at 0x400 and halts
 * with 42 in AX. Nothing to change here: your work is in step4.c.
 */
        .code16
        .intel_syntax noprefix

        .equ CONSOLE_PORT, 0xe9     /* the Bochs/QEMU "debug console" port */
        .equ RESULT_ADDR, 0x400     /* where the host looks for the 42 */
        .equ ROM_SEGMENT, 0xf000    /* 0xf000 * 16 = 0xf0000 */

        .section .text.start, "ax"
        .global _start
_start:
        call    print_rom
        mov     ax, ROM_SEGMENT
        mov     es, ax
        mov     byte ptr es:[0], 'X'        /* a ROM ignores these */
        mov     word ptr es:[0x10], 0x5858
        call    print_rom
        mov     word ptr [RESULT_ADDR], 42
        mov     ax, 42
        hlt
        jmp     _start

/* print_rom: "ROM says: ", the ROM's message, "\n" on the console. */
print_rom:
        mov     si, offset label
        call    print
        mov     ax, ROM_SEGMENT
        mov     ds, ax
        xor     si, si              /* ds:si = 0xf0000 */
        call    print
        xor     ax, ax
        mov     ds, ax
        mov     al, '\n'
        out     CONSOLE_PORT, al
        ret

/* print: the NUL-terminated string at DS:SI, one "out" per byte. */
print:
        lodsb
        test    al, al
        jz      1f
        out     CONSOLE_PORT, al
        jmp     print
1:      ret

        .section .rodata
label:
        .asciz  "ROM says: "

/* No executable stack for whatever links this object. */
        .section .note.GNU-stack, "", @progbits
