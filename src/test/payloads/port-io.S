# Ring 3 (ports opened by the sandbox TSS's I/O bitmap): writes a line to the UART data port one OUTB at a time, then reads ANSWER_PORT
# at each width (IN AL, AX, EAX) and echoes every value to ECHO_PORT with the same width, so the test
# sees that what its device answered reached the guest's register.
.include "ports.inc"

    .text
    .globl _start
_start:
    lea     message(%rip), %rsi
    mov     $UART_PORT, %dx
1:
    lodsb
    test    %al, %al
    jz      2f
    out     %al, %dx
    jmp     1b
2:
    mov     $ANSWER_PORT, %dx
    in      %dx, %al
    mov     $ECHO_PORT, %dx
    out     %al, %dx

    mov     $ANSWER_PORT, %dx
    in      %dx, %ax
    mov     $ECHO_PORT, %dx
    out     %ax, %dx

    mov     $ANSWER_PORT, %dx
    in      %dx, %eax
    mov     $ECHO_PORT, %dx
    out     %eax, %dx

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

message:
    .asciz  "hello from ring 3\n"
