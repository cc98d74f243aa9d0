/* real-jump-unmapped: enters protected mode and jumps to 2 GiB, where
 * there is no memory to fetch instructions from. */
#include "enter-pm32.inc"
        mov     eax, 0x80000000
        jmp     eax
