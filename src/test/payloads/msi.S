# A message-signalled interrupt, sent by the VMM straight to the local APIC, served by a ring-0 handler.
#
# Ring 3, entered with IF=1 by the VMM:
#   - software-enables the local APIC (no PIC, no LINT0: an MSI needs neither);
#   - tells the VMM it is ready (NOTE_PORT) and spins until the handler has run.
# The VMM first sends messages that must be dropped (to an absent APIC, outside the interrupt window),
# whose vectors lead to stray_handler, then vector 0x41 to APIC 0. Each handler reports its vector on
# IRQ_PORT (0xee for a stray) and EOIs the local APIC.
.include "ports.inc"

.equ LAPIC_BASE,   0xfee00000
.equ LAPIC_EOI,    0xb0
.equ LAPIC_SVR,    0xf0
.equ MSI_VECTOR,   0x41

    .text
    .globl _start
_start:
    mov     $LAPIC_BASE, %ebx
    movl    $0x1ff, LAPIC_SVR(%rbx)     # APIC software enable, spurious vector 0xff

    mov     $NOTE_PORT, %dx
    out     %al, %dx
1:
    pause
    cmpb    $0, msi_seen(%rip)
    je      1b

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

    .globl  msi_handler
msi_handler:
    push    %rax
    push    %rdx
    movb    $1, msi_seen(%rip)
    mov     $MSI_VECTOR, %al
    jmp     report

    .globl  stray_handler
stray_handler:
    push    %rax
    push    %rdx
    mov     $0xee, %al
report:
    mov     $IRQ_PORT, %dx
    out     %al, %dx
    mov     $LAPIC_BASE, %eax
    movl    $0, LAPIC_EOI(%rax)
    pop     %rdx
    pop     %rax
    iretq

msi_seen:
    .byte   0
