# Ring 3: a long loop whose state is in general registers, an SSE register summed under a non-default
# MXCSR (round toward zero: a restore that lost MXCSR or XMM0 changes the sum) and a counter in memory,
# for the KVM snapshot tests. Half-way it reads NOTE_PORT, which the test answers: a known point to pause
# at, and an IN that a snapshot must complete. At the end it reports the sum's bits to RESULT_PORT (low
# half first) and exits; RBX = ROUNDS * (ROUNDS + 1) / 2 + the answer, and `counter` = ROUNDS.
.include "ports.inc"
.equ ROUNDS, 200000000
.equ HALF, 100000000

    .text
    .globl _start
_start:
    ldmxcsr mxcsr(%rip)
    movsd   third(%rip), %xmm1
    xorpd   %xmm0, %xmm0
    mov     $ROUNDS, %ecx
    xor     %ebx, %ebx
1:
    addsd   %xmm1, %xmm0
    add     %rcx, %rbx
    incq    counter(%rip)
    cmp     $HALF, %ecx
    jne     2f
    mov     $NOTE_PORT, %dx
    in      %dx, %eax
    .globl  after_in
after_in:
    add     %rax, %rbx
2:
    dec     %ecx
    jnz     1b

    movq    %xmm0, %rax
    mov     $RESULT_PORT, %dx
    out     %eax, %dx
    shr     $32, %rax
    out     %eax, %dx
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

    .balign 8
third:
    .double 0.3333333333333333
mxcsr:
    .long   0x7f80                  # all exceptions masked, RC = round toward zero
    .balign 8
    .globl  counter
counter:
    .quad   0
