# Ring 3, IF=1: irq.S's PIC and local APIC set-up, then a loop of several blocks (A: ADD, TEST/JZ; B: ADD and the
# check; C: the check alone) that the JIT compiles and chains or joins in a region, until the IRQ 5 handler has
# run: an interrupt raised while the vCPU only ever goes from one compiled block to the next must still be taken.
# R8 counts rounds. The handler (vector 0x25) reports on IRQ_PORT, sends the PIC an EOI and returns.
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
