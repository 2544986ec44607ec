# Ring 0: the loop shapes that dominate bench-cpu, for the JIT's speed test and its exactness checks.
# Loop 1 is splitmix64 and a rotate/multiply mixer (one block looping on itself: ALU, shifts, ROL, IMUL);
# loop 2 walks an array with loads, stores and branches over several blocks; loop 3 is a counted loop closed
# by a CMP fused with its JNE. RAX ends with a checksum.
.include "ports.inc"
    .set HASH_ROUNDS, 400000
    .set ARRAY_ROUNDS, 300

    .text
    .globl _start
_start:
    mov     $0x3039, %edx
    xor     %eax, %eax
    movabs  $0x9e3779b97f4a7c15, %r11
    movabs  $0xbf58476d1ce4e5b9, %r10
    movabs  $0x94d049bb133111eb, %r9
    movabs  $0x2127599bf4325c37, %r8
    mov     $HASH_ROUNDS, %edi
1:
    add     %r11, %rdx
    mov     %rdx, %rcx
    shr     $0x1e, %rcx
    xor     %rdx, %rcx
    imul    %r10, %rcx
    mov     %rcx, %rsi
    shr     $0x1b, %rsi
    xor     %rcx, %rsi
    imul    %r9, %rsi
    mov     %rsi, %rcx
    shr     $0x1f, %rcx
    xor     %rsi, %rcx
    xor     %rcx, %rax
    mov     %rax, %rsi
    mov     %rcx, %rax
    rol     $0x17, %rsi
    shr     $0x7, %rax
    imul    %r8, %rsi
    add     %rsi, %rax
    mov     %rax, %rcx
    shr     $0x2f, %rcx
    xor     %rcx, %rax
    sub     $1, %edi
    jnz     1b

    mov     $ARRAY_ROUNDS, %r12d
2:
    lea     array(%rip), %rbx
    xor     %ecx, %ecx
3:
    mov     (%rbx,%rcx,4), %edx
    add     %eax, %edx
    movzbl  %dl, %esi
    cmp     $0x80, %esi
    jb      4f
    sub     $0x7f, %edx
4:
    mov     %edx, (%rbx,%rcx,4)
    add     %rdx, %rax
    rol     $5, %rax
    inc     %ecx
    cmp     $1024, %ecx
    jne     3b
    dec     %r12d
    jnz     2b

    # Loop 3: one block looping on itself and ending in a compare fused with its branch (flags dead at its top).
    xor     %ecx, %ecx
    jmp     5f
5:
    add     %rcx, %rax
    xor     $0x55, %rax
    lea     7(%rax,%rcx,2), %rdx
    add     $1, %rcx
    cmp     $200000, %rcx
    jne     5b

    mov     %rax, %rbx
    mov     $EXIT_PORT, %dx
    out     %al, %dx
    jmp     .

    .data
    .balign 4096
array:
    .skip   4096
