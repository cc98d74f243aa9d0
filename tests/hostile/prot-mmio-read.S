/* prot-mmio-read: reads 4 bytes at 2 GiB, beyond RAM: an MMIO exit
 * (or, with paging on and nothing mapped there, a page fault). */
        .code32
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        mov     eax, [0x80000000]
        hlt
