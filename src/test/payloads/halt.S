# Ring 0 (entered that way from the VMM, with interrupts enabled): tells the VMM it is about to halt,
# then HLTs. With KVM's in-kernel LAPIC the halt stays inside KVM_RUN until an interrupt or a kick;
# only a kick comes, so the test sees run() return Interrupted and RIP just past the HLT.
.include "ports.inc"

    .text
    .globl _start
_start:
    mov     $NOTE_PORT, %dx
    out     %al, %dx
    hlt
    .globl  after_hlt
after_hlt:
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     after_hlt
