/* The Multiboot v1 header and entry of the test kernel (see kernel.c). */
    .set MAGIC, 0x1BADB002
    .set FLAGS, 0x00000003          /* page-aligned modules, memory information */
    .section .multiboot, "a"
    .balign 4
    .long MAGIC
    .long FLAGS
    .long -(MAGIC + FLAGS)

    .text
    .code32
    .globl _start
_start:
    movl $stack_top, %esp
    pushl %ebx                      /* the Multiboot information */
    pushl %eax                      /* 0x2BADB002 */
    call kmain
1:  hlt
    jmp 1b

    .bss
    .balign 16
    .space 16384
stack_top:
