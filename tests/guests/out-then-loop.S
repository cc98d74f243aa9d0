/*
 * out-then-loop: writes "?" to the console port (one exit), then jumps
 * to itself forever, as a guest waiting for something would. The same
 * bytes are the same instructions in 16-, 32- and 64-bit code, so every
 * step from 4 on runs it: the watchdog stops it after an exit.
 */
        .code16
        .section .text.start, "ax"
        .global _start
_start:
        mov     $'?', %al
        out     %al, $0xe9              /* an exit */
1:      jmp     1b                      /* eb fe: waits for nothing */
