# Ring 0: a loop that rewrites its own code after the JIT compiled it (threshold 0 compiles every block at its
# first execution). The loop is one block looping on itself, and each round stores ECX (100 down to 1) as its
# ADD's immediate: EAX = 1 + (100 + 99 + ... + 2) = 5050 when every rewrite is seen, 1 + 99 * 100 = 9901 if
# the compiled block went round with the immediate it was compiled with. A second loop calls a function whose not-taken JE,
# compiled in the first call, it then patches into a JMP past one of two INCs: RBX = 2 + 1 + 1 = 4 when the
# patch is seen, 6 when stale.
.include "ports.inc"
    .text
    .globl _start
_start:
    mov     $100, %ecx
    xor     %eax, %eax
    jmp     1f                      # the loop's block starts at its ADD
1:
patched:
    add     $1, %eax
    movb    %cl, patched+2(%rip)
    dec     %ecx
    jnz     1b

    xor     %ebx, %ebx
    mov     $3, %ecx
2:
    call    counter
    movb    $0xeb, branch(%rip)     # je (74) becomes jmp (eb): the next call skips an INC
    dec     %ecx
    jnz     2b
    mov     %eax, %esi
    mov     $EXIT_PORT, %dx
    out     %al, %dx
    jmp     .

counter:
    test    %ecx, %ecx
branch:
    je      3f
    inc     %ebx
3:
    inc     %ebx
    ret
