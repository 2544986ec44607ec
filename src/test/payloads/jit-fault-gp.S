# Ring 0: a loop compiled by the JIT whose load faults (#GP: a non-canonical address) in its eleventh round.
# The handler hands over the faulting RIP (R9); R12 counts the rounds begun (11), ECX is 0.
.include "ports.inc"
    .text
    .globl _start
_start:
    mov     $10, %ecx
    xor     %r12d, %r12d
    lea     data(%rip), %rsi
    movabs  $0x8000000000000000, %r8
    jmp     1f
1:
    add     $1, %r12                # in a JVM local when the load faults: the fault must write it back
faulting:
    mov     (%rsi), %rax
    sub     $1, %ecx
    cmovz   %r8, %rsi
    jmp     1b

    .globl handler
handler:
    mov     8(%rsp), %r9            # #GP pushes an error code, then RIP
    mov     $EXIT_PORT, %dx
    out     %al, %dx
    jmp     .

    .data
data:
    .quad   0x1234
