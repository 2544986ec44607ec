# Ring 0: loops of several blocks, which compiled code chains through (each block's exit goes straight into its
# successor's translation, same page). Loop 1 (A: ADD, TEST/JZ; B: ADD; C: SUB/JNZ back to A) counts to 1000 with
# EBX += 3 on odd rounds: EAX = 1000, EBX = 1500. Loop 2 chains from its TEST/JZ into a block whose ADD's
# immediate code on another page rewrites after the first round: ESI = 1 + 10 + 10 = 21 when the rewrite is seen,
# 3 when a chained entry ran the stale translation. Then NOTE_PORT, and a loop of chained blocks that never ends
# (R8 counts rounds, R9 odd ones): only a pause stops it.
.include "ports.inc"
    .set ROUNDS, 1000

    .text
    .globl _start
_start:
    xor     %eax, %eax
    xor     %ebx, %ebx
    mov     $ROUNDS, %ecx
1:
    add     $1, %eax
    test    $1, %eax
    jz      2f
    add     $3, %ebx
2:
    sub     $1, %ecx
    jnz     1b

    xor     %esi, %esi
    mov     $3, %ecx
3:
    test    %ecx, %ecx
    jz      5f
patched:
    add     $1, %esi                # 83 c6 01: the immediate is patched+2
    jmp     far_page
back:
    sub     $1, %ecx
    jmp     3b
5:
    mov     $NOTE_PORT, %dx
    out     %al, %dx

    xor     %r8d, %r8d
    xor     %r9d, %r9d
6:
    add     $1, %r8
    test    $1, %r8d
    jz      7f
    add     $1, %r9
7:
    jmp     6b

    .balign 4096
far_page:
    movb    $10, patched+2(%rip)
    jmp     back
