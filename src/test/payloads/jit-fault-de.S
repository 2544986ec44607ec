# Ring 0: a loop compiled by the JIT whose DIV faults (#DE) once the divisor has counted down to 0. R10 sums
# 100 / 5 + 100 / 4 + ... + 100 / 1 = 228 before; the handler hands over the faulting RIP (R9).
.include "ports.inc"
    .text
    .globl _start
_start:
    mov     $5, %ecx
    xor     %r10d, %r10d
    jmp     1f
1:
    mov     $100, %eax
    xor     %edx, %edx
faulting:
    div     %ecx
    add     %rax, %r10
    sub     $1, %ecx
    jmp     1b

    .globl handler
handler:
    mov     (%rsp), %r9             # #DE pushes no error code
    mov     $EXIT_PORT, %dx
    out     %al, %dx
    jmp     .
