/* prot-mmio-flood: writes beyond RAM over and over. A host without
 * MMIO devices stops at the first write; one with devices would see a
 * flood until the watchdog. */
        .code32
        .intel_syntax noprefix
        .section .text.start, "ax"
        .global _start
_start:
flood:
        mov     dword ptr [0x40000000], eax
        inc     eax
        jmp     flood
