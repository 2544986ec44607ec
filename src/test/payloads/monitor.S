# Ring 0: one of each action the engine monitoring contract can trap, each at a .globl label so the test
# can check the reported RIP, then a repeat of the same actions on things nobody watches.
.include "ports.inc"

.equ WATCHED,   0x180000     # a frame the test watches
.equ UNWATCHED, 0x190000

    .text
    .globl _start
_start:
    mov     $0xc0000080, %ecx      # EFER.SCE, for SYSCALL below
    rdmsr
    or      $1, %eax
    wrmsr
    .globl watched_write
watched_write:
    movq    $0x1122334455667788, %rax
    .globl watched_store
watched_store:
    movq    %rax, WATCHED + 8
    movq    %rax, UNWATCHED + 8

    mov     %cr0, %rax
    and     $~0x10000, %rax       # clear CR0.WP
    .globl cr0_write
cr0_write:
    mov     %rax, %cr0

    mov     $0xc0000082, %ecx      # LSTAR
    lea     after_syscall(%rip), %rax
    mov     %rax, %rdx
    shr     $32, %rdx
    .globl lstar_write
lstar_write:
    wrmsr
    mov     $0xc0000100, %ecx      # FS_BASE: not watched
    xor     %eax, %eax
    xor     %edx, %edx
    wrmsr
    mov     $0xc0000081, %ecx      # STAR: kernel CS 0x08 for SYSCALL
    xor     %eax, %eax
    mov     $0x00080008, %edx
    wrmsr

    sub     $16, %rsp
    sidt    (%rsp)
    .globl lidt_load
lidt_load:
    lidt    (%rsp)
    add     $16, %rsp

    mov     $39, %eax              # watched number
    mov     $7, %edi
    .globl watched_syscall
watched_syscall:
    syscall
    .globl after_syscall
after_syscall:
    cmp     $39, %eax
    jne     done
    mov     $40, %eax              # not watched: lands here again, then leaves
    syscall
done:
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     done
