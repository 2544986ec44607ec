# Ring 3: a CPU-bound loop that only native execution finishes quickly. xorshift64 steps folded into
# an accumulator with a multiply and a rotate, for ROUNDS rounds counting down; the 64-bit result goes
# to RESULT_PORT as two 32-bit OUTs, low half first. KvmRing3PayloadTest computes the same in Java.
.include "ports.inc"
.equ ROUNDS, 5000000

    .text
    .globl _start
_start:
    movabs  $0x9e3779b97f4a7c15, %rax   # x: the xorshift state
    xor     %ebx, %ebx                  # acc
    mov     $ROUNDS, %ecx               # i counts ROUNDS down to 1
1:
    mov     %rax, %rdx                  # x ^= x << 13
    shl     $13, %rdx
    xor     %rdx, %rax
    mov     %rax, %rdx                  # x ^= x >>> 7
    shr     $7, %rdx
    xor     %rdx, %rax
    mov     %rax, %rdx                  # x ^= x << 17
    shl     $17, %rdx
    xor     %rdx, %rax
    mov     %rax, %rdx                  # acc = rotl(acc + x * i, 5)
    imul    %rcx, %rdx
    add     %rdx, %rbx
    rol     $5, %rbx
    dec     %ecx
    jnz     1b

    mov     $RESULT_PORT, %dx
    mov     %ebx, %eax
    out     %eax, %dx                   # low 32 bits
    shr     $32, %rbx
    mov     %ebx, %eax
    out     %eax, %dx                   # high 32 bits
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .
