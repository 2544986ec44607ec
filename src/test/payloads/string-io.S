# Ring 3 string I/O, the count > 1 case of KVM_EXIT_IO:
#  - REP OUTSB of a line to the UART and REP OUTSW / REP OUTSL of fixed words to RESULT_PORT;
#  - REP INSB (16), REP INSW (8) and REP INSL (4) from STREAM_PORT into one 48-byte buffer, which a
#    correct engine fills with 0, 1, ..., 47 (the stream's consecutive bytes);
#  - the buffer echoed to ECHO_PORT one OUTB at a time (no string I/O), so the test sees what landed.
.include "ports.inc"

    .text
    .globl _start
_start:
    cld
    lea     line(%rip), %rsi
    mov     $(line_end - line), %ecx
    mov     $UART_PORT, %dx
    rep outsb

    lea     words(%rip), %rsi
    mov     $3, %ecx
    mov     $RESULT_PORT, %dx
    rep outsw
    lea     dwords(%rip), %rsi
    mov     $2, %ecx
    rep outsl

    lea     buffer(%rip), %rdi
    mov     $STREAM_PORT, %dx
    mov     $16, %ecx
    rep insb
    mov     $8, %ecx
    rep insw
    mov     $4, %ecx
    rep insl

    lea     buffer(%rip), %rsi
    mov     $48, %ecx
    mov     $ECHO_PORT, %dx
1:
    lodsb
    out     %al, %dx
    loop    1b

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

line:
    .ascii  "string I/O works\n"
line_end:
words:
    .word   0x1111, 0x2222, 0x3333
dwords:
    .long   0x44444444, 0x55555555
    .globl  buffer
buffer:
    .fill   48, 1, 0xcc
