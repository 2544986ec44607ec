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

.equ PIC1_COMMAND, 0x20
.equ PIC1_DATA,    0x21
.equ PIC2_DATA,    0xa1
.equ LAPIC_BASE,   0xfee00000
.equ LAPIC_SVR,    0xf0
.equ LAPIC_LVT0,   0x350
.equ IRQ_VECTOR,   0x25

    .text
    .globl _start
_start:
    mov     $0x11, %al                  # ICW1: edge triggered, cascade, ICW4 follows
    out     %al, $PIC1_COMMAND
    mov     $0x20, %al                  # ICW2: IRQ 0-7 -> vectors 0x20-0x27
    out     %al, $PIC1_DATA
    mov     $0x04, %al                  # ICW3: slave on IR2
    out     %al, $PIC1_DATA
    mov     $0x01, %al                  # ICW4: 8086 mode
    out     %al, $PIC1_DATA
    mov     $0xdf, %al                  # OCW1: everything masked but IRQ 5
    out     %al, $PIC1_DATA
    mov     $0xff, %al
    out     %al, $PIC2_DATA

    mov     $LAPIC_BASE, %ebx
    movl    $0x1ff, LAPIC_SVR(%rbx)     # APIC software enable, spurious vector 0xff
    movl    $0x700, LAPIC_LVT0(%rbx)    # LVT0: ExtINT, unmasked

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

    .globl  irq5_handler
irq5_handler:
    push    %rax
    push    %rdx
    movb    $1, irq_seen(%rip)
    mov     $IRQ_PORT, %dx
    mov     $IRQ_VECTOR, %al
    out     %al, %dx
    mov     $0x20, %al                  # OCW2: non-specific EOI
    out     %al, $PIC1_COMMAND
    pop     %rdx
    pop     %rax
    iretq

irq_seen:
    .byte   0
