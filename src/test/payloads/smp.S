# Two vCPUs on two threads share memory: locked read-modify-writes, a spinlock, and an IPI.
#
# Both vCPUs entered here (vCPU 1 with its own stack): in ring 0 with IF=0, or in ring 3 with IF=1 (KVM, whose
# ring 0 is emulated on nested hosts). Each vCPU, told apart by its APIC id:
#   1. ROUNDS times: LOCK INC of a shared quadword, LOCK XADD of 2 to another, LOCK INC of its own byte of a
#      shared word (the other vCPU's byte sits beside it), LOCK INC of a doubleword that crosses an 8-byte
#      boundary (a split lock), a CMPXCHG16B loop adding 1 to both halves of a 16-byte pair, and, holding a
#      test-and-set spinlock (XCHG), a plain increment of a quadword only the lock protects;
#   2. meets the other at a barrier (LOCK INC, spin);
#   3. vCPU 1 then halts with interrupts on (in ring 3, where HLT faults, it spins); vCPU 0 sends it IPI vector
#      0x42 (physical destination 1) and waits until its handler has run, then writes EXIT_PORT. vCPU 1's
#      handler sets a flag and EOIs.
# The test reads the counters from memory: each must be exactly what the rounds add up to.
.include "ports.inc"

.equ LAPIC_BASE,  0xfee00000
.equ LAPIC_ID,    0x20
.equ LAPIC_EOI,   0xb0
.equ LAPIC_SVR,   0xf0
.equ LAPIC_ICR_LO, 0x300
.equ LAPIC_ICR_HI, 0x310
.equ IPI_VECTOR,  0x42
.equ ROUNDS,      20000

    .text
    .globl _start
_start:
    mov     $LAPIC_BASE, %ebx
    movl    $0x1ff, LAPIC_SVR(%rbx)     # software-enable the APIC
    mov     LAPIC_ID(%rbx), %r12d
    shr     $24, %r12d                  # r12 = APIC id (0 or 1)

    mov     $ROUNDS, %ecx
1:
    lock incq   counter(%rip)
    mov     $2, %eax
    lock xaddq  %rax, sum(%rip)
    lea     bytes(%rip), %rdx
    lock incb   (%rdx,%r12)
    lock incl   split+6(%rip)
    mov     %ecx, %r13d                 # CMPXCHG16B needs RBX and RCX: keep the round count aside
10: mov     pair(%rip), %rax
    mov     pair+8(%rip), %rdx
    lea     1(%rax), %rbx
    lea     1(%rdx), %rcx
    lock cmpxchg16b pair(%rip)
    jnz     10b
    mov     %r13d, %ecx
    mov     $LAPIC_BASE, %ebx
2:  mov     $1, %eax
    xchg    %eax, spinlock(%rip)        # implicitly locked
    test    %eax, %eax
    jz      3f
    pause
    jmp     2b
3:  mov     guarded(%rip), %rax         # plain read-modify-write, safe only under the lock
    inc     %rax
    mov     %rax, guarded(%rip)
    movl    $0, spinlock(%rip)          # release: a plain store, as Linux does
    dec     %ecx
    jnz     1b

    lock incl   arrived(%rip)
4:  pause
    cmpl    $2, arrived(%rip)
    jne     4b

    test    %r12d, %r12d
    jnz     ap

    # vCPU 0: wait until vCPU 1 halts, then IPI it and wait for its handler.
5:  pause
    cmpl    $1, ap_waiting(%rip)
    jne     5b
    movl    $(1 << 24), LAPIC_ICR_HI(%rbx)
    movl    $IPI_VECTOR, LAPIC_ICR_LO(%rbx)   # fixed, physical, no shorthand
6:  pause
    cmpl    $0, ipi_seen(%rip)
    je      6b
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

ap:
    movl    $1, ap_waiting(%rip)
    mov     %cs, %ax
    test    $3, %al
    jnz     8f
    sti
7:  hlt
    cmpl    $0, ipi_seen(%rip)
    je      7b
    cli
    jmp     9f
8:  pause
    cmpl    $0, ipi_seen(%rip)
    je      8b
9:  mov     $NOTE_PORT, %dx
    out     %al, %dx
    jmp     .

    .globl  ipi_handler
ipi_handler:
    movl    $1, ipi_seen(%rip)
    push    %rax
    mov     $LAPIC_BASE, %eax
    movl    $0, LAPIC_EOI(%rax)
    pop     %rax
    iretq

    # Data on a page of its own: writes to the code's page would drop its decoded blocks each time.
    .balign 4096
    .globl counter, sum, bytes, guarded, spinlock, arrived, ap_waiting, ipi_seen, split, pair
pair:       .quad 0, 0                  # 16-byte aligned (the page is)
split:      .quad 0, 0
counter:    .quad 0
sum:        .quad 0
bytes:      .quad 0
guarded:    .quad 0
spinlock:   .long 0
arrived:    .long 0
ap_waiting: .long 0
ipi_seen:   .long 0
