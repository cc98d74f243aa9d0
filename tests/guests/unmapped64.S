/*
 * unmapped64: 64-bit code for step7 (run with --guest). It reads from
 * virtual 0x40000000 (1 GiB), which step 7's page tables do not map:
 * a page fault, which with no interrupt table becomes a triple fault.
 * (Assembled as 32-bit objects like the others; .code64 makes the bytes
 * 64-bit code, and nothing here needs a 64-bit relocation.)
 */
        .code64
        .section .text.start, "ax"
        .global _start
_start:
        mov     0x40000000, %rax        /* #PF: PDPT entry 1 is empty */
        hlt
