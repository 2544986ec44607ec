# Ring 0, entered with IF=1: the interpreter's interrupt controllers and timers seen from a guest.
#   1. programs the 8259A pair (vectors 0x20/0x28, only IRQ 5 unmasked) and puts the local APIC in
#      virtual-wire mode (LINT0 ExtINT), tells the VMM (NOTE_PORT) and halts until IRQ 5's handler ran:
#      the test raises the line from another thread while the vCPU sleeps in HLT;
#   2. one-shot APIC timer: 1,000,000 ticks divided by 2 (2 ms at the 1 GHz bus), HLT until it fires;
#   3. periodic APIC timer: 1 ms, HLT through three ticks, then stops it;
#   4. TSC-deadline timer: 3 ms after RDTSC, HLT until it fires.
# It reports on RESULT_PORT, in order: HLTs executed while waiting for IRQ 5 (each halt-check round),
# then the TSC ticks each timer wait took (low 32 bits), then the APIC timer's current count after the
# stop. Handlers report their vector on IRQ_PORT.
#
# Every wait is "cli; check; sti; hlt": STI holds interrupts off for one more instruction, so the HLT
# cannot miss an interrupt that arrives after the check. That is what Linux's safe_halt relies on.
.include "ports.inc"

.equ PIC1_COMMAND, 0x20
.equ PIC1_DATA,    0x21
.equ PIC2_COMMAND, 0xa0
.equ PIC2_DATA,    0xa1
.equ LAPIC,        0xfee00000
.equ LAPIC_EOI,    0xb0
.equ LAPIC_SVR,    0xf0
.equ LAPIC_LVTT,   0x320
.equ LAPIC_LVT0,   0x350
.equ LAPIC_TMICT,  0x380
.equ LAPIC_TMCCT,  0x390
.equ LAPIC_TDCR,   0x3e0
.equ MSR_TSC_DEADLINE, 0x6e0
.equ TIMER_VECTOR, 0x40
.equ PERIODIC,     0x20000
.equ TSC_DEADLINE, 0x40000

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
    mov     $0xdf, %al                  # OCW1: only IRQ 5
    out     %al, $PIC1_DATA
    mov     $0xff, %al
    out     %al, $PIC2_DATA

    mov     $LAPIC, %ebx
    movl    $0x1ff, LAPIC_SVR(%rbx)     # software enable, spurious vector 0xff
    movl    $0x700, LAPIC_LVT0(%rbx)    # LINT0: ExtINT (virtual wire)

    # 1. IRQ 5 from the test while halted
    mov     $NOTE_PORT, %dx
    out     %al, %dx
    xor     %r13d, %r13d                # HLTs executed
1:  cli
    cmpl    $0, irq_count(%rip)
    jne     2f
    inc     %r13d
    sti
    hlt
    jmp     1b
2:  sti
    mov     %r13d, %eax
    call    report

    # 2. one-shot
    movl    $0x0, LAPIC_TDCR(%rbx)      # divide by 2
    movl    $TIMER_VECTOR, LAPIC_LVTT(%rbx)
    call    tsc
    mov     %rax, %r12
    movl    $1000000, LAPIC_TMICT(%rbx)
    mov     $1, %esi
    call    wait_timer
    sti
    call    elapsed

    # 3. periodic
    movl    $0xb, LAPIC_TDCR(%rbx)      # divide by 1
    movl    $(TIMER_VECTOR | PERIODIC), LAPIC_LVTT(%rbx)
    call    tsc
    mov     %rax, %r12
    movl    $1000000, LAPIC_TMICT(%rbx)
    mov     $3, %esi
    call    wait_timer                  # three periods; returns with interrupts off
    movl    $0, LAPIC_TMICT(%rbx)       # stop before another period can end
    sti
    call    elapsed
    mov     LAPIC_TMCCT(%rbx), %eax
    push    %rax

    # 4. TSC deadline
    movl    $(TIMER_VECTOR | TSC_DEADLINE), LAPIC_LVTT(%rbx)
    call    tsc
    mov     %rax, %r12
    add     $3000000, %rax
    mov     %rax, %rdx
    shr     $32, %rdx
    mov     $MSR_TSC_DEADLINE, %ecx
    wrmsr
    mov     $1, %esi
    call    wait_timer
    sti
    call    elapsed

    pop     %rax
    call    report
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

# Halts until esi more timer interrupts have come; returns with interrupts disabled.
wait_timer:
    mov     timer_count(%rip), %r14d
    add     %esi, %r14d
1:  cli
    cmpl    %r14d, timer_count(%rip)
    jae     2f
    sti
    hlt
    jmp     1b
2:  ret

# rax = TSC
tsc:
    rdtsc
    shl     $32, %rdx
    or      %rdx, %rax
    ret

# Reports TSC - r12.
elapsed:
    call    tsc
    sub     %r12, %rax
    # fall through
report:
    mov     $RESULT_PORT, %dx
    out     %eax, %dx
    ret

    .globl  irq5_handler
irq5_handler:
    push    %rax
    push    %rdx
    incl    irq_count(%rip)
    mov     $IRQ_PORT, %dx
    mov     $0x25, %al
    out     %al, %dx
    mov     $0x20, %al                  # OCW2: non-specific EOI
    out     %al, $PIC1_COMMAND
    pop     %rdx
    pop     %rax
    iretq

    .globl  timer_handler
timer_handler:
    push    %rax
    push    %rdx
    incl    timer_count(%rip)
    mov     $IRQ_PORT, %dx
    mov     $TIMER_VECTOR, %al
    out     %al, %dx
    mov     $(LAPIC + LAPIC_EOI), %eax
    movl    $0, (%rax)                  # local APIC EOI
    pop     %rdx
    pop     %rax
    iretq

    .balign 4
irq_count:
    .long   0
timer_count:
    .long   0
