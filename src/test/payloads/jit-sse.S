# Ring 0: the SSE2 scalar-double forms the JIT runs natively, under every MXCSR setting its guard must tell apart,
# on operands that must go to the interpreter's exact path (NaNs, infinities, denormals, zeros, overflow,
# underflow, inexact conversions). The same compiled block runs for every pair and MXCSR value; after each
# round the results (XMM2-XMM8 low quadwords, the flags of COMISD and UCOMISD, MXCSR) go out on RESULT_PORT,
# 32 bits at a time. The interpreter alone is the reference. (Data stays in .text, as in every payload.)
.include "ports.inc"

.macro emit64 reg
    mov     \reg, %rax
    out     %eax, %dx
    shr     $32, %rax
    out     %eax, %dx
.endm

    .text
    .globl _start
_start:
    lea     modes(%rip), %r12
    mov     $RESULT_PORT, %dx
1:
    mov     (%r12), %r13d           # the MXCSR of this pass
    test    %r13d, %r13d
    jz      9f
    lea     pairs(%rip), %rsi
2:
    mov     %r13d, mxcsr_in(%rip)
    ldmxcsr mxcsr_in(%rip)
    movsd   (%rsi), %xmm0
    movsd   8(%rsi), %xmm1
    movapd  %xmm0, %xmm2
    addsd   %xmm1, %xmm2
    movapd  %xmm0, %xmm3
    subsd   8(%rsi), %xmm3
    movapd  %xmm0, %xmm4
    mulsd   %xmm1, %xmm4
    movapd  %xmm0, %xmm5
    divsd   %xmm1, %xmm5
    movsd   %xmm0, %xmm6
    divsd   8(%rsi), %xmm6
    addsd   8(%rsi), %xmm6
    comisd  %xmm1, %xmm0
    pushfq
    pop     %rbx
    ucomisd 8(%rsi), %xmm0
    pushfq
    pop     %rcx
    mov     8(%rsi), %rax
    cvtsi2sd %rax, %xmm7            # b's bits as an integer: mostly beyond 2^53, inexact
    cvtsi2sd %eax, %xmm8
    xorpd   %xmm9, %xmm9
    pxor    %xmm2, %xmm9
    movsd   %xmm9, stored(%rip)
    movsd   stored(%rip), %xmm10
    mulsd   %xmm10, %xmm3
    stmxcsr mxcsr_out(%rip)
    movq    %xmm2, %rax
    out     %eax, %dx
    shr     $32, %rax
    out     %eax, %dx
    movq    %xmm3, %r8
    emit64  %r8
    movq    %xmm4, %r8
    emit64  %r8
    movq    %xmm5, %r8
    emit64  %r8
    movq    %xmm6, %r8
    emit64  %r8
    movq    %xmm7, %r8
    emit64  %r8
    movq    %xmm8, %r8
    emit64  %r8
    emit64  %rbx
    emit64  %rcx
    mov     mxcsr_out(%rip), %eax
    out     %eax, %dx
    add     $16, %rsi
    lea     pairs_end(%rip), %rax
    cmp     %rax, %rsi
    jne     2b
    add     $4, %r12
    jmp     1b
9:
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

    .balign 4096                    # data on a page of its own: its stores do not drop the compiled code
mxcsr_in:   .long 0
mxcsr_out:  .long 0
stored:     .quad 0
# MXCSR: default (PE clear), PE set, PE set with each other rounding, DAZ, FTZ, DAZ+FTZ, other flags set; 0 ends.
modes:
    .long 0x1f80, 0x1fa0, 0x3fa0, 0x5fa0, 0x7fa0, 0x1fe0, 0x9fa0, 0x9fe0, 0x1fbf, 0x1f80, 0
    .balign 16
pairs:
    .double 1.5, 3.25                       # exact
    .double 0.1, 0.2                        # inexact
    .double 1.0, 3.0                        # inexact quotient
    .double -2.5, 2.5                       # a zero sum
    .double 1e300, 1e300                    # overflow of the product
    .double 1e-300, 1e-300                  # underflow of the product
    .double 1e-300, 1e300                   # underflow of the quotient
    .quad   0x0010000000000000, 0x8010000000000001  # smallest normals: a denormal difference
    .quad   0x0000000000000001, 0x3ff0000000000000  # a denormal operand
    .double 0.0, 0.0                        # 0/0
    .double 5.0, 0.0                        # divide by zero
    .double -0.0, -0.0                      # signed zeros
    .quad   0x7ff8000000000001, 0x3ff0000000000000  # a quiet NaN
    .quad   0x3ff0000000000000, 0x7ff0000000000001  # a signalling NaN source
    .quad   0x7ff0000000000000, 0xfff0000000000000  # infinities
    .double 4.0, 2.0                        # exact, after all of the above
    .quad   0x4000000000000001, 0x0020000000000000  # a normal result just above the smallest normal / MIN * 2^-1
pairs_end:
