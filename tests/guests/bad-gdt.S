/*
 * bad-gdt: a real-mode boot loader (run with step5 --boot) whose GDT's
 * code descriptor has its present bit clear. lgdt accepts the table; the
 * far jump that loads CS from it raises #NP, which with no interrupt
 * table becomes a triple fault: KVM_EXIT_SHUTDOWN.
 */
        .code16
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        cli
        lgdt    [gdt_pointer]
        mov     eax, cr0
        or      eax, 1                  /* CR0.PE */
        mov     cr0, eax
        ljmp    0x08, offset protected  /* #NP: entry 1 is not present */

        .code32
protected:
        hlt

        .balign 8
gdt:
        .quad   0
        .quad   0x00cf1b000000ffff      /* code, like boot16's, but P = 0 */
gdt_end:
gdt_pointer:
        .word   gdt_end - gdt - 1
        .long   gdt
