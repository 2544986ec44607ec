# Ring 3: reports the state a fresh vCPU starts with, as the guest sees it:
#   MXCSR (STMXCSR), the x87 control word (FNSTCW), the initial APIC id (CPUID.1:EBX[31:24]),
#   and KVM's paravirtual signature (CPUID.0x40000000: EBX, ECX, EDX = "KVMKVMKVM\0\0\0").
.include "ports.inc"

    .text
    .globl _start
_start:
    mov     $RESULT_PORT, %di           # CPUID clobbers edx; keep the port in di
    stmxcsr scratch(%rip)
    mov     scratch(%rip), %eax
    mov     %di, %dx
    out     %eax, %dx
    fnstcw  scratch(%rip)
    movzwl  scratch(%rip), %eax
    out     %eax, %dx

    mov     $1, %eax
    cpuid
    shr     $24, %ebx
    mov     %ebx, %eax
    mov     %di, %dx
    out     %eax, %dx

    mov     $0x40000000, %eax
    cpuid
    mov     %edx, %esi
    mov     %di, %dx
    mov     %ebx, %eax
    out     %eax, %dx
    mov     %ecx, %eax
    out     %eax, %dx
    mov     %esi, %eax
    out     %eax, %dx

    mov     $EXIT_PORT, %dx
    xor     %eax, %eax
    out     %al, %dx
    jmp     .

scratch:
    .long   0
