# Ring 3: tells the VMM it has started, then spins natively until the test sets `release` in guest
# memory; a kick must interrupt the spin, and the vCPU must resume where it was afterwards.
.include "ports.inc"

    .text
    .globl _start
_start:
    mov     $NOTE_PORT, %dx
    out     %al, %dx
1:
    pause
    cmpb    $0, release(%rip)
    je      1b
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

    .globl  release
release:
    .byte   0
