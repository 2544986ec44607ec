# Ring 0: code in four frames, each run for the first time, changed and run again, so a test can see each
# frame's code-execution question (InterpCodeExecutionTest). Every result goes to RESULT_PORT.
#   0x100000 (A)  _start, the #GP handler
#   0x101000 (B)  func: counts its runs at MARKER, returns the immediate at func_imm (1)
#   0x102000 (C)  ends with the first bytes of straddle, a MOV whose last bytes are in D
#   0x103000 (D)  the rest of straddle, then RET
.include "ports.inc"

.equ MARKER, 0x104000          # data, in a frame that holds no code

.macro result                   # EAX to RESULT_PORT
    mov     $RESULT_PORT, %dx
    out     %eax, %dx
.endm

    .text
    .globl _start
_start:
    call    func                # 1
    result
    .globl patch_store
patch_store:
    movl    $2, func_imm        # the guest changes B's code
    call    func                # 2
    result
    mov     $NOTE_PORT, %dx     # the test changes B's code as a device would (3)
    out     %al, %dx
    call    func                # 3
    result
    call    straddle            # 5
    result
    call    straddle            # 5, asking nothing
    result
    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
1:  jmp     1b

# #GP: reports the faulting RIP, then returns to that instruction (it runs again once allowed).
    .globl gp_handler
gp_handler:
    push    %rax
    push    %rdx
    mov     24(%rsp), %rax      # above the saved RAX, RDX and the error code
    result
    pop     %rdx
    pop     %rax
    add     $8, %rsp            # the error code
    iretq

    .org 0x1000
    .globl func
func:
    incl    MARKER
    .byte   0xb8                # mov $imm32, %eax
    .globl func_imm
func_imm:
    .long   1
    ret

    .org 0x2ffd
    .globl straddle
straddle:
    mov     $5, %eax            # 5 bytes: 0x102ffd-0x103001
    ret
