# Ring 3 MMIO to a test device at MMIO_BASE (guest-physical, no RAM behind it): one write and one read
# at each width 1, 2, 4, 8. The values read go to RESULT_PORT (the 8-byte one as two halves, low first).
.include "ports.inc"

    .text
    .globl _start
_start:
    mov     $MMIO_BASE, %ebx
    movb    $0x11, 0x00(%rbx)
    movw    $0x2233, 0x10(%rbx)
    movl    $0x44556677, 0x20(%rbx)
    movabs  $0x8899aabbccddeeff, %rax
    mov     %rax, 0x30(%rbx)

    mov     $RESULT_PORT, %dx
    movzbl  0x40(%rbx), %eax
    out     %eax, %dx
    movzwl  0x50(%rbx), %eax
    out     %eax, %dx
    mov     0x60(%rbx), %eax
    out     %eax, %dx
    mov     0x70(%rbx), %rax
    out     %eax, %dx
    shr     $32, %rax
    out     %eax, %dx

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .
