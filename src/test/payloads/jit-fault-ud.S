# Ring 0: a loop compiled by the JIT, then UD2 (#UD). R12 is 3; the handler hands over the faulting RIP (R9).
.include "ports.inc"
    .text
    .globl _start
_start:
    xor     %r12d, %r12d
    jmp     1f
1:
    add     $1, %r12
    cmp     $3, %r12
    jne     1b
faulting:
    ud2

    .globl handler
handler:
    mov     (%rsp), %r9             # #UD pushes no error code
    mov     $EXIT_PORT, %dx
    out     %al, %dx
    jmp     .
