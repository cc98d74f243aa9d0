/*
 * guest.S: the guest of exercise 04-counter, 16-bit real mode, started at
 * 0000:1000 like step 4's guest/real16.S with every segment register 0.
 *
 * It reads the host's counter on port 0x99 in every way "in" can: a word,
 * a byte, a double word, and three words with one "rep insw". It stores
 * each value it read at 0x500 (16-bit words), then halts with the fifth
 * value, which must be 42, in AX and at 0x400. Nothing to change here:
 * your work is the host's side, in step4.c.
 */
        .code16
        .intel_syntax noprefix

        .equ COUNTER_PORT, 0x99     /* the host's counter */
        .equ RESULT_ADDR, 0x400     /* where the host looks for the 42 */
        .equ VALUES_ADDR, 0x500     /* what the guest read, for the host */

        .section .text.start, "ax"
        .global _start
_start:
        cld                         /* stosw and insw count upwards */
        mov     di, VALUES_ADDR     /* es:di: where the next value goes */
        mov     dx, COUNTER_PORT
        in      ax, dx              /* a word: 0, the counter's start */
        stosw
        in      ax, dx              /* 1 */
        stosw
        mov     ax, 40
        out     dx, ax              /* the counter is 40 now */
        in      al, dx              /* a byte: 40 */
        xor     ah, ah
        stosw
        in      eax, dx             /* a double word: 41 */
        stosw
        mov     cx, 3
        rep insw                    /* three words at es:di: 42, 43, 44 */
        mov     ax, [VALUES_ADDR + 8]
        mov     [RESULT_ADDR], ax
        hlt                         /* KVM_EXIT_HLT: the host checks AX */
        jmp     _start

/* No executable stack for whatever links this object. */
        .section .note.GNU-stack, "", @progbits
