# Ring 3 MMIO with instructions that read more than 8 bytes at once, on the memory-like test device at
# MMIO_BASE (see mmio-split.S): CMPXCHG16B whose compare fails (it loads bytes 0x300-0x30f into RDX:RAX)
# and FLD m80 across a 4 KiB boundary (bytes 0xffb-0x1004) stored back by FSTP m80 into RAM (extended).
# KVM's in-kernel emulator does not emulate these on MMIO; the interpreter does.
.include "ports.inc"

    .text
    .globl _start
_start:
    mov     $MMIO_BASE, %esi
    xor     %eax, %eax
    xor     %edx, %edx
    xor     %ebx, %ebx
    xor     %ecx, %ecx
    lock cmpxchg16b 0x300(%rsi)
    mov     %rdx, %rdi
    mov     $RESULT_PORT, %dx
    call    report
    mov     %rdi, %rax
    call    report

    fninit
    fldt    0xffb(%rsi)
    fstpt   extended(%rip)

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

report:
    out     %eax, %dx
    shr     $32, %rax
    out     %eax, %dx
    ret

    .balign 16
    .globl extended
extended:
    .fill   16, 1, 0
