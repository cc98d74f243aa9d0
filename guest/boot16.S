/*
 * boot16.S: step 5's second guest, the boot loader's way into protected
 * mode. The host starts it in real mode at 0000:1000, as in step 4; the
 * guest builds nothing at run time: its GDT is in its own data, it loads
 * it with lgdt, sets CR0.PE and far-jumps into a 32-bit code segment. From
 * there it loads the data segments and the stack and calls _start, the
 * same C guest (hello.c, -m32) the host starts directly in step 5's
 * default mode. Linked in front of hello.c by guest/guest.ld (.text.boot).
 */
        .intel_syntax noprefix

        .equ CODE_SELECTOR, 0x08    /* GDT entry 1: flat 32-bit code */
        .equ DATA_SELECTOR, 0x10    /* GDT entry 2: flat data */
        .equ STACK_TOP, 0x200000    /* the top of guest memory (2 MiB) */
        .equ CR0_PE, 1              /* CR0 bit 0: protection enable */

        .section .text.boot, "ax"
        .global boot16_start
        .code16
boot16_start:
/* listing: boot-lgdt */
        cli                         /* no interrupt table yet */
        lgdt    [gdt_pointer]       /* GDTR = base and limit of our GDT */
        mov     eax, cr0
        or      eax, CR0_PE
        mov     cr0, eax            /* protected mode, but CS still holds */
                                    /* the real-mode segment it had */
        /* The far jump loads CS from GDT entry 1: base 0, limit 4 GiB,
         * 32-bit (D=1). The next instruction is decoded as 32-bit code. */
        ljmp    CODE_SELECTOR, offset protected
/* end listing: boot-lgdt */

/* listing: boot-segments */
        .code32                     /* from here on, assemble 32-bit code */
protected:
        mov     ax, DATA_SELECTOR   /* each load reads GDT entry 2 into */
        mov     ds, ax              /* the segment's hidden cache */
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax
        mov     esp, STACK_TOP
        call    _start              /* the C guest; it never returns */
/* end listing: boot-segments */
1:      hlt
        jmp     1b

/* listing: boot-gdt */
/*
 * The same three descriptors step 5's host writes into guest memory,
 * here as data (the bits are drawn in steps/step5.c, gdt_entry()):
 *   0x00  null: the CPU never uses entry 0
 *   0x08  code: base 0, limit 0xfffff pages, present, DPL 0, execute/read,
 *         32-bit (D=1), 4 KiB granularity (G=1)
 *   0x10  data: the same, read/write
 */
        .balign 8
gdt:
        .quad   0x0000000000000000
        .quad   0x00cf9b000000ffff
        .quad   0x00cf93000000ffff
gdt_end:
gdt_pointer:                        /* the operand of lgdt: */
        .word   gdt_end - gdt - 1   /*   limit: size in bytes, minus 1 */
        .long   gdt                 /*   base: a linear address */
/* end listing: boot-gdt */

/* No executable stack for whatever links this object. */
        .section .note.GNU-stack, "", @progbits
