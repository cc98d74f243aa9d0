/* real-mmio-write: enters protected mode and writes 4 bytes at 1 GiB,
 * where there is no memory: a KVM_EXIT_MMIO write. */
#include "enter-pm32.inc"
        mov     dword ptr [0x40000000], 0x12345678
        hlt
