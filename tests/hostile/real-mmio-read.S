/* real-mmio-read: enters protected mode and reads 4 bytes at 2 GiB,
 * far beyond the guest's 2 MiB of RAM: a KVM_EXIT_MMIO read. */
#include "enter-pm32.inc"
        mov     eax, [0x80000000]
        hlt
