/*
 * trampoline.S: where step 12's application processors (APs) start.
 *
 * A start-up IPI (SIPI) carries one byte, a vector VV, and the AP that
 * takes it starts in real mode at CS:IP = VV00:0000, the physical page
 * VV000: a page below 1 MiB, the only thing a SIPI can name. This code
 * is that page. It is data to the kernel (.rodata), which copies it to
 * TRAMPOLINE (0x8000: vector 0x08) and fills in trampoline_params (the
 * page tables, the AP's stack, its number and where to go) before each
 * SIPI. From there the AP takes the road a PC's boot processor takes,
 * in a few dozen bytes:
 *
 *   real mode, 16-bit     lgdt, CR0.PE, a far jump to a 32-bit segment
 *   protected, 32-bit     CR4.PAE, CR3, EFER.LME, CR0.PG: long mode,
 *                         then a far jump to the 64-bit segment
 *   long mode, 64-bit     its own stack, then a call to smp.c's
 *                         ap_entry(cpu)
 *
 * The code runs at TRAMPOLINE, not where the linker put it: an address
 * it uses is AT(label), the label's place in the copy. Real-mode code
 * addresses its data by offset from CS's base, which the SIPI set to
 * TRAMPOLINE: label - trampoline_start.
 */
        .equ TRAMPOLINE, 0x8000     /* the page smp.c copies this to */
        .equ CODE64, 0x08           /* our GDT below: the host's selectors, */
        .equ DATA, 0x10             /* so that the IDT's gates (0x08) work */
        .equ CODE32, 0x18           /* and one more, for protected mode */
        .equ CR0_PE, 0x1            /* protection enable */
        .equ CR0_ET, 0x10           /* extension type: always 1 */
        .equ CR0_WP, 0x10000        /* write protect, for the kernel too */
        .equ CR0_PG, 0x80000000     /* paging */
        .equ CR4_PAE, 0x20          /* 64-bit page table entries */
        .equ MSR_EFER, 0xc0000080   /* extended feature enable register */
        .equ EFER_LME, 0x100        /* long mode enable */

#define AT(label) (TRAMPOLINE + (label) - trampoline_start)

        .section .rodata
        .global trampoline_start, trampoline_end, trampoline_params
        .balign 16

/* listing: trampoline-real */
        .code16
trampoline_start:
        cli                         /* no IDT here: nothing may interrupt */
        movw    %cs, %ax            /* CS = 0x0800, base 0x8000: the SIPI's */
        movw    %ax, %ds            /* page; DS the same, for our data */
        lgdt    gdt_pointer - trampoline_start
        /* CR0 as INIT left it has CD and NW (caches off): set it whole. */
        movl    $(CR0_PE | CR0_ET), %eax
        movl    %eax, %cr0
        ljmp    $CODE32, $AT(protected)
/* end listing: trampoline-real */

/* listing: trampoline-long */
        .code32
protected:
        movw    $DATA, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs
        movl    $CR4_PAE, %eax      /* long mode's page tables are PAE's */
        movl    %eax, %cr4
        movl    AT(params_cr3), %eax
        movl    %eax, %cr3          /* the BSP's tables: the host built them */
        movl    $MSR_EFER, %ecx
        rdmsr
        orl     $EFER_LME, %eax
        wrmsr
        /* Paging on with EFER.LME set: long mode (EFER.LMA), still in
         * 32-bit code until the far jump loads a 64-bit CS. */
        movl    $(CR0_PE | CR0_ET | CR0_WP | CR0_PG), %eax
        movl    %eax, %cr0
        ljmp    $CODE64, $AT(long_mode)

        .code64
long_mode:
        movq    AT(params_stack), %rsp
        movl    AT(params_cpu), %edi
        movq    AT(params_entry), %rax
        call    *%rax               /* ap_entry(cpu): it never returns */
1:      cli
        hlt
        jmp     1b
/* end listing: trampoline-long */

/*
 * The GDT: the host's two descriptors at the same selectors (steps/
 * step12.c, gdt_entry(), draws the bits), and a 32-bit code segment
 * for the way through protected mode:
 *   0x08  64-bit code (L=1): base 0, DPL 0, execute/read
 *   0x10  data: base 0, limit 4 GiB, read/write
 *   0x18  32-bit code (D=1): base 0, limit 4 GiB, execute/read
 */
        .balign 8
gdt:
        .quad   0x0000000000000000
        .quad   0x00af9b000000ffff
        .quad   0x00cf93000000ffff
        .quad   0x00cf9b000000ffff
gdt_end:
gdt_pointer:                        /* lgdt's operand: limit, then base */
        .word   gdt_end - gdt - 1
        .long   AT(gdt)

/* listing: trampoline-params */
/* What the BSP fills in before each SIPI (struct trampoline_params in
 * smp.c): the page tables, this AP's stack and number, its entry. */
        .balign 8
trampoline_params:
params_cr3:     .quad   0
params_stack:   .quad   0
params_entry:   .quad   0
params_cpu:     .quad   0
trampoline_end:
/* end listing: trampoline-params */

        .section .note.GNU-stack, "", @progbits
