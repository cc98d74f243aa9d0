/*
 * triple-fault: enters 32-bit protected mode with an empty interrupt
 * descriptor table (IDT limit 0), then executes an undefined instruction.
 * The #UD cannot be delivered (its IDT entry is past the limit), and the
 * failed delivery raises #GP. #GP cannot be delivered either, and a #GP
 * while delivering a #GP is a double fault (#DF). A fault while
 * delivering #DF is a triple fault: the CPU shuts down, and KVM reports
 * KVM_EXIT_SHUTDOWN.
 */
        .code16
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
        cli
        lgdt    [gdt_pointer]
        lidt    [empty_idt]
        mov     eax, cr0
        or      eax, 1                  /* CR0.PE: protected mode */
        mov     cr0, eax
        ljmp    0x08, offset protected

        .code32
protected:
        ud2                             /* #UD -> #GP -> #DF -> shutdown */
        hlt

        .balign 8
gdt:
        .quad   0                       /* null descriptor */
        .quad   0x00cf9a000000ffff      /* 0x08: flat 32-bit code */
gdt_pointer:
        .word   gdt_pointer - gdt - 1
        .long   gdt
empty_idt:
        .word   0
        .long   0
