# Ring 0, entered with IF=1: a long deterministic computation under two running timers, for the
# interpreter's snapshot tests (SnapshotRig). It programs the 8259A pair (vectors 0x20/0x28, only IRQ 0
# unmasked), PIT channel 0 (mode 2, 1193 ticks: about 1 ms) and the local APIC (virtual wire, periodic
# timer at vector 0x40 every 150 us), loads the x87 stack and the XMM registers, then runs ROUNDS rounds
# that mix integer, x87 (every 8th round) and SSE arithmetic and both interrupt counts into a hash, write
# it into a RAM buffer, and every 2048 rounds copy 16 KiB of that buffer with REP MOVSB (several REP
# steps, so a pause or an interrupt can come between them). Halfway it writes NOTE_PORT. At the end it
# stops the interrupts, stores the FPU and SSE state with FXSAVE at FXSAVE_AREA and reports on
# RESULT_PORT: the APIC timer count, the PIT count and the hash (low, then high half).
.include "ports.inc"

.equ PIC1_COMMAND, 0x20
.equ PIC1_DATA,    0x21
.equ PIC2_COMMAND, 0xa0
.equ PIC2_DATA,    0xa1
.equ PIT_CHANNEL0, 0x40
.equ PIT_CONTROL,  0x43
.equ PIT_COUNT,    1193
.equ LAPIC,        0xfee00000
.equ LAPIC_EOI,    0xb0
.equ LAPIC_SVR,    0xf0
.equ LAPIC_LVTT,   0x320
.equ LAPIC_LVT0,   0x350
.equ LAPIC_TMICT,  0x380
.equ LAPIC_TDCR,   0x3e0
.equ TIMER_VECTOR, 0x40
.equ PERIODIC,     0x20000
.equ ROUNDS,       200000
.equ BUFFER,       0x140000         # 64 KiB the rounds write
.equ COPY,         0x150000         # where REP MOVSB copies 16 KiB of it
.equ FXSAVE_AREA,  0x160000

    .text
    .globl _start
_start:
    mov     $0x11, %al                  # ICW1 to both: edge, cascade, ICW4 follows
    out     %al, $PIC1_COMMAND
    out     %al, $PIC2_COMMAND
    mov     $0x20, %al                  # ICW2: master vectors 0x20-0x27
    out     %al, $PIC1_DATA
    mov     $0x28, %al                  #       slave vectors 0x28-0x2f
    out     %al, $PIC2_DATA
    mov     $0x04, %al                  # ICW3: slave on IR2
    out     %al, $PIC1_DATA
    mov     $0x02, %al                  #       slave identity 2
    out     %al, $PIC2_DATA
    mov     $0x01, %al                  # ICW4: 8086 mode
    out     %al, $PIC1_DATA
    out     %al, $PIC2_DATA
    mov     $0xfe, %al                  # OCW1: only IRQ 0
    out     %al, $PIC1_DATA
    mov     $0xff, %al
    out     %al, $PIC2_DATA

    mov     $0x34, %al                  # PIT channel 0: LSB then MSB, mode 2, binary
    out     %al, $PIT_CONTROL
    mov     $(PIT_COUNT & 0xff), %al
    out     %al, $PIT_CHANNEL0
    mov     $(PIT_COUNT >> 8), %al
    out     %al, $PIT_CHANNEL0

    mov     $LAPIC, %r8d
    movl    $0x1ff, LAPIC_SVR(%r8)      # software enable, spurious vector 0xff
    movl    $0x700, LAPIC_LVT0(%r8)     # LINT0: ExtINT (virtual wire), so the PIC reaches the CPU
    movl    $0xb, LAPIC_TDCR(%r8)       # divide by 1
    movl    $(TIMER_VECTOR | PERIODIC), LAPIC_LVTT(%r8)
    movl    $150000, LAPIC_TMICT(%r8)   # 150 us at the 1 GHz bus

    fninit
    fld1
    fldpi                               # ST0 = pi, ST1 = 1: TOP is 6
    movapd  constants(%rip), %xmm1
    movapd  constants+16(%rip), %xmm2
    pxor    %xmm0, %xmm0

    mov     $0x243f6a8885a308d3, %rbx   # the hash
    mov     $0x9e3779b97f4a7c15, %r12   # an odd multiplier
    xor     %r15d, %r15d                # the round
round:
    mov     %rbx, %rax
    imul    %r12, %rax
    rol     $17, %rax
    mov     timer_count(%rip), %ecx     # when the interrupts came is part of the result
    add     %rcx, %rax
    mov     pit_count(%rip), %ecx
    shl     $32, %rcx
    xor     %rcx, %rax
    xor     %rax, %rbx

    mov     %r15, %rdx
    and     $0x1fff, %edx
    xor     %rbx, BUFFER(,%rdx,8)

    test    $7, %r15b                   # x87 every 8th round (soft float is slow):
    jnz     3f
    mov     %ebx, scratch(%rip)         # ST0 = sqrt(ST0 + (hash & 0xffff)) + 1, bounded
    andl    $0xffff, scratch(%rip)
    fiaddl  scratch(%rip)
    fsqrt
    fadd    %st(1), %st
3:

    cvtsi2sdq %rbx, %xmm3               # SSE: a running sum, and XMM2 = XMM2 * XMM1 + XMM1 (converges)
    addsd   %xmm3, %xmm0
    mulpd   %xmm1, %xmm2
    addpd   %xmm1, %xmm2

    test    $0x7ff, %r15d
    jnz     1f
    mov     $BUFFER, %esi
    mov     $COPY, %edi
    mov     $16384, %ecx
    cld
    rep movsb
1:
    inc     %r15
    cmp     $(ROUNDS / 2), %r15
    jne     2f
    mov     $NOTE_PORT, %dx
    out     %al, %dx
2:
    cmp     $ROUNDS, %r15
    jb      round

    cli                                 # the counts are final from here
    fxsave  FXSAVE_AREA
    mov     timer_count(%rip), %eax
    call    report
    mov     pit_count(%rip), %eax
    call    report
    mov     %rbx, %rax
    call    report
    mov     %rbx, %rax
    shr     $32, %rax
    call    report
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

report:
    mov     $RESULT_PORT, %dx
    out     %eax, %dx
    ret

    .globl  timer_handler
timer_handler:
    push    %rax
    incl    timer_count(%rip)
    mov     $(LAPIC + LAPIC_EOI), %eax
    movl    $0, (%rax)                  # local APIC EOI
    pop     %rax
    iretq

    .globl  pit_handler
pit_handler:
    push    %rax
    incl    pit_count(%rip)
    mov     $0x20, %al                  # OCW2: non-specific EOI
    out     %al, $PIC1_COMMAND
    pop     %rax
    iretq

    .balign 16
constants:
    .double 0.5, 0.25                   # XMM1
    .double 3.0, 7.0                    # XMM2
    .globl  timer_count
timer_count:
    .long   0
    .globl  pit_count
pit_count:
    .long   0
scratch:
    .long   0
