/* real-ram-edge: puts the first byte of a two-byte instruction (0x0f) in
 * the last byte of RAM and jumps to it: the instruction runs off the end
 * of guest memory, and the host showing the code at RIP must stop there. */
#include "enter-pm32.inc"
        mov     eax, 0x1fffff
        mov     byte ptr [eax], 0x0f
        jmp     eax
