# Ring 0: a loop whose instruction count is known exactly, for the interpreter's instruction counter.
# It has what the interpreter runs specially: CMP and TEST fused with the Jcc after them, a branch taken
# or not by turns, and blocks entered in the middle. Executed: 2 + 1000 * 6 + 501 + 2 = 6505 instructions
# up to and including the OUT to EXIT_PORT.
.include "ports.inc"

    .text
    .globl _start
_start:
    mov     $1000, %ecx
    xor     %eax, %eax
1:
    add     $3, %eax
    cmp     $500, %ecx
    jb      2f                  # not taken while ECX >= 500 (501 times)
    inc     %eax
2:
    dec     %ecx
    test    %ecx, %ecx
    jnz     1b
    mov     $EXIT_PORT, %dx
    out     %al, %dx
    jmp     .
