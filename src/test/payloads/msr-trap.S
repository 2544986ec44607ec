# Ring 0, for MSR-write traps: each WRMSR at a .globl label, so the test can check the reported RIP.
#   - says it has started (NOTE_PORT) and waits for `release` (already set, unless the test clears it
#     to arm while the vCPU is inside guest code);
#   - writes LSTAR, reads it back and reports what RDMSR saw on RESULT_PORT (low half, then high half);
#   - writes FS_BASE, which no test watches;
#   - writes a non-canonical LSTAR, which must fault: the test points #GP (vector 13) at gp_handler,
#     which reports the faulting RIP's low half on RESULT_PORT and ends the payload with status 0.
.include "ports.inc"

.equ LSTAR,   0xc0000082
.equ FS_BASE, 0xc0000100

    .text
    .globl _start
_start:
    mov     $NOTE_PORT, %dx
    out     %al, %dx
1:
    pause
    cmpb    $0, release(%rip)
    je      1b

    mov     $LSTAR, %ecx
    mov     $0x81234560, %eax          # LSTAR = 0xffffffff81234560, canonical
    mov     $0xffffffff, %edx
    .globl lstar_write
lstar_write:
    wrmsr
    xor     %eax, %eax
    xor     %edx, %edx
    rdmsr
    mov     %edx, %ebx
    mov     $RESULT_PORT, %dx
    out     %eax, %dx
    mov     %ebx, %eax
    out     %eax, %dx

    mov     $FS_BASE, %ecx
    mov     $0x12345000, %eax
    xor     %edx, %edx
    .globl fs_base_write
fs_base_write:
    wrmsr

    mov     $LSTAR, %ecx
    xor     %eax, %eax                 # LSTAR = 0x0000800000000000: bit 47 set, bits 63-48 clear
    mov     $0x00008000, %edx
    .globl bad_lstar_write
bad_lstar_write:
    wrmsr
    mov     $EXIT_PORT, %dx            # not reached when the write faults
    mov     $1, %al
    out     %al, %dx
    jmp     .

    .globl gp_handler
gp_handler:
    mov     8(%rsp), %rax              # above the error code: the faulting RIP
    mov     $RESULT_PORT, %dx
    out     %eax, %dx
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

    .globl release
release:
    .byte   1
