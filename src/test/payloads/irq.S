# A legacy interrupt through KVM's in-kernel 8259 PIC, served by a ring-0 handler.
#
# Ring 3, entered with IF=1 by the VMM (STI in ring 3 #GPs on hosts like ours even with IOPL=3):
#   - initialises the master PIC with vector base 0x20 and unmasks IRQ 5 only (slave fully masked);
#   - software-enables the local APIC and sets LVT0 to ExtINT, so the PIC's output reaches the CPU
#     (the LAPIC page at 0xfee00000 is identity-mapped with U/S set, and served inside KVM);
#   - tells the VMM it is ready (NOTE_PORT) and spins until the handler has run.
# The handler (IDT vector 0x25, a ring-0 interrupt gate, emulated on hosts like ours) reports its
# vector on IRQ_PORT, sends the PIC a non-specific EOI and returns with IRETQ.
.include "ports.inc"

.include "irq5.inc"

    .text
    .globl _start
_start:
    IRQ5_SETUP

    mov     $NOTE_PORT, %dx
    out     %al, %dx
1:
    pause
    cmpb    $0, irq_seen(%rip)
    je      1b

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

    IRQ5_HANDLER
