/*
 * embed.S: wraps one guest's flat binary into an object file the steps
 * link with. The Makefile assembles it once per guest, defining
 * GUEST_NAME (the symbol, e.g. guest_real16) and GUEST_FILE (the path of
 * the flat binary). A step then sees the guest as two symbols:
 *
 *     extern const unsigned char guest_real16[], guest_real16_end[];
 *
 * and the guest's size is guest_real16_end - guest_real16.
 */
#define PASTE(a, b) a ## b
#define SYMBOL_END(name) PASTE(name, _end)

        .section .rodata
        .balign 16
        .global GUEST_NAME
GUEST_NAME:
        .incbin GUEST_FILE
        .global SYMBOL_END(GUEST_NAME)
SYMBOL_END(GUEST_NAME):

/* No executable stack for the step that links this object. */
        .section .note.GNU-stack, "", @progbits
