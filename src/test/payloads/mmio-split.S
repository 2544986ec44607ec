# Ring 3 MMIO that needs more than one device access per instruction, on a test device of 0x5000 bytes
# at MMIO_BASE that reads back what it holds (memory-like):
#   an 8-byte load across a 4 KiB boundary, a 16-byte MOVDQU inside a page and one across a boundary,
#   LOCK XADD across a boundary, REP MOVSB of 32 bytes across a boundary into RAM (buffer).
#   Each value read goes to RESULT_PORT as 32-bit halves, low first. (mmio-wide.S has the instructions
#   KVM's own emulator does not take on MMIO.)
.include "ports.inc"

    .text
    .globl _start
_start:
    mov     $MMIO_BASE, %ebx
    mov     $RESULT_PORT, %dx

    mov     0xffd(%rbx), %rax           # A: bytes 0xffd-0x1004
    call    report

    movdqu  0x200(%rbx), %xmm0          # B: bytes 0x200-0x20f
    call    report_xmm0
    movdqu  0x1ff8(%rbx), %xmm0         # C: bytes 0x1ff8-0x2007
    call    report_xmm0

    mov     $1, %eax
    lock xadd %rax, 0x2ffc(%rbx)        # D: bytes 0x2ffc-0x3003 read, old value + 1 written back
    call    report

    lea     0x3ff0(%rbx), %rsi          # E: bytes 0x3ff0-0x400f copied to buffer
    lea     buffer(%rip), %rdi
    mov     $32, %ecx
    cld
    rep movsb

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

report_xmm0:
    movq    %xmm0, %rax
    call    report
    psrldq  $8, %xmm0
    movq    %xmm0, %rax
    # fall through
report:
    out     %eax, %dx
    shr     $32, %rax
    out     %eax, %dx
    ret

    .balign 16
    .globl buffer
buffer:
    .fill   32, 1, 0
