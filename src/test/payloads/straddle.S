# Ring 0: instructions whose bytes straddle a page boundary, run in loops that rewrite them (the vCPU keeps such an
# instruction decoded, checked against both pages). Each ADD EAX, imm32 has its opcode and the immediate's low byte
# at the end of one page and the immediate's upper three bytes on the next. The first loop writes ECX (100 down to 1)
# into the immediate's second byte, on the second page: ESI = 256 * (100 + 99 + ... + 2) = 1292544 when every write
# is seen. The second writes ECX into the low byte, on the first page: EDI = 100 + ... + 2 = 5049. The third runs an
# unchanged straddling ADD 1000 times: EBP = 1000 * 0x01020304.
.include "ports.inc"
    .text
    .globl _start
_start:
    mov     $100, %ecx
    xor     %eax, %eax
    jmp     second_page_written

    .balign 4096
    .skip   4094
second_page_written:
    .byte   0x05                    # add eax, imm32
    .long   0
    movb    %cl, second_page_written+2(%rip)
    dec     %ecx
    jnz     second_page_written
    mov     %eax, %esi

    mov     $100, %ecx
    xor     %eax, %eax
    jmp     first_page_written
    .balign 4096
    .skip   4094
first_page_written:
    .byte   0x05
    .long   0
    movb    %cl, first_page_written+1(%rip)
    dec     %ecx
    jnz     first_page_written
    mov     %eax, %edi

    mov     $1000, %ecx
    xor     %eax, %eax
    jmp     unchanged
    .balign 4096
    .skip   4093
unchanged:
    .byte   0x05
    .long   0x01020304
    dec     %ecx
    jnz     unchanged
    mov     %eax, %ebp

    mov     $EXIT_PORT, %dx
    out     %al, %dx
    jmp     .
