# Ring 3, IF=1: the PIC and local APIC set-up of irq5.inc, then a loop of several blocks (A: ADD, TEST/JZ; B: ADD and the
# check; C: the check alone) that the JIT compiles and chains or joins in a region, until the IRQ 5 handler has
# run: an interrupt raised while the vCPU only ever goes from one compiled block to the next must still be taken.
# R8 counts rounds. The handler (vector 0x25) reports on IRQ_PORT, sends the PIC an EOI and returns.
.include "ports.inc"

.include "irq5.inc"

    .text
    .globl _start
_start:
    IRQ5_SETUP

    mov     $NOTE_PORT, %dx
    out     %al, %dx
    xor     %r8d, %r8d
    xor     %r9d, %r9d
1:
    add     $1, %r8
    test    $1, %r8d
    jz      2f
    add     $1, %r9
2:
    cmpb    $0, irq_seen(%rip)
    je      1b

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

    IRQ5_HANDLER
