/*
 * An application processor's way from its startup IPI to 64-bit mode, instruction for instruction as
 * Linux's trampoline_64.S (6.12: trampoline_start with LOCK_AND_LOAD_REALMODE_ESP, verify_cpu's 64-bit
 * path, startup_32, startup_64's indirect jump to the kernel) takes it, plus a
 * few checks of what real and 16/32-bit code need on the way (a real-mode INT/IRET through the IVT,
 * PUSHA/POPA, 16-bit addressing, moffs and disp32 operands). Linked at 0x8000 and entered at 0800:0000,
 * as SIPI vector 8 starts a processor. It ends in HLT (interrupts off) with RAX holding
 * the 64-bit marker; the markers of the earlier stages are in memory.
 */
    .set KERNEL32_CS, 0x08
    .set KERNEL_CS, 0x10
    .set KERNEL_DS, 0x18
    .set REAL_MODE_BASE, 0x8000
    .set MSR_EFER, 0xc0000080
    .set MSR_MISC_ENABLE, 0x1a0

    .text
    .code16
    .globl _start
_start:
trampoline_start:
    cli
    wbinvd
    ljmpw   $(REAL_MODE_BASE >> 4), $(1f - _start)   /* LJMPW_RM: realign CS */
1:
    mov     %cs, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss

    /* LOCK_AND_LOAD_REALMODE_ESP: only one CPU at a time uses the real-mode stack. */
.Llock_rm:
    lock btsl $0, tr_lock - _start
    jnc     2f
    pause
    jmp     .Llock_rm
2:
    movl    $(rm_stack_end - _start), %esp

    /* Real-mode checks: an INT through the IVT (at 0) and its IRET; PUSHA/POPA; [BX+SI+disp8]. */
    xorw    %ax, %ax
    mov     %ax, %fs
    movw    $(int_handler - _start), %fs:(0x30 * 4)
    movw    %cs, %fs:(0x30 * 4 + 2)
    movw    $0x1234, %bx
    movw    $0x5678, %si
    pushaw
    xorw    %bx, %bx
    xorw    %si, %si
    popaw
    movw    %bx, real_bx - _start    /* 0x1234 and 0x5678 again after POPA */
    movw    %si, real_bx + 2 - _start
    int     $0x30
    movw    $(real_marker - _start - 4), %bx
    movw    $4, %si
    movw    %dx, (%bx, %si)          /* the handler's DX, through [BX+SI] */
    movw    %cx, 2(%bx, %si)         /* and its CX, through [BX+SI+disp8] */

    call    verify_cpu
    testl   %eax, %eax
    jnz     no_longmode

switch_to_protected:
    lidtl   tr_idt - _start
    lgdtl   tr_gdt - _start
    movw    $KERNEL_DS, %dx
    movl    $0x00000011, %eax        /* CR0_STATE & ~X86_CR0_PG: PE and ET */
    movl    %eax, %cr0
    ljmpl   $KERNEL32_CS, $startup_32

no_longmode:
    hlt
    jmp     no_longmode

int_handler:
    movw    $0x4952, %dx            /* "RI" */
    movw    $0x4d49, %cx            /* "IM" */
    iret

/* arch/x86/kernel/verify_cpu.S (6.12), its 64-bit path: vendor, family/model, the Intel XD bit, the
 * required feature masks, SSE. */
    .set REQUIRED_MASK0, 0x0700a169   /* FPU PSE MSR PAE CX8 PGE CMOV FXSR XMM XMM2 */
    .set REQUIRED_MASK1, 0x20000000   /* LM */
    .set SSE_MASK, 0x06000000
verify_cpu:
    pushf                            /* save caller passed flags */
    push    $0                       /* kill any dangerous flags */
    popf
    movl    $0x0, %eax               /* see if cpuid 1 is implemented */
    cpuid
    cmpl    $0x1, %eax
    jb      verify_cpu_no_longmode
    xor     %di, %di
    cmpl    $0x68747541, %ebx        /* AuthenticAMD */
    jnz     verify_cpu_noamd
    cmpl    $0x69746e65, %edx
    jnz     verify_cpu_noamd
    cmpl    $0x444d4163, %ecx
    jnz     verify_cpu_noamd
    mov     $1, %di
    jmp     verify_cpu_check
verify_cpu_noamd:
    cmpl    $0x756e6547, %ebx        /* GenuineIntel */
    jnz     verify_cpu_check
    cmpl    $0x49656e69, %edx
    jnz     verify_cpu_check
    cmpl    $0x6c65746e, %ecx
    jnz     verify_cpu_check
    movl    $0x1, %eax               /* IA32_MISC_ENABLE only when family > 6 || (family == 6 && model >= 0xd) */
    cpuid
    movl    %eax, %ecx
    andl    $0x0ff00f00, %eax
    shrl    $8, %eax
    cmpl    $6, %eax
    ja      verify_cpu_clear_xd
    jb      verify_cpu_check
    andl    $0x000f00f0, %ecx
    shrl    $4, %ecx
    cmpl    $0xd, %ecx
    jb      verify_cpu_check
verify_cpu_clear_xd:
    movl    $MSR_MISC_ENABLE, %ecx
    rdmsr
    btrl    $2, %edx                 /* clear XD_DISABLE */
    jnc     verify_cpu_check
    wrmsr
verify_cpu_check:
    movl    $0x1, %eax               /* does the cpu have what it takes */
    cpuid
    andl    $REQUIRED_MASK0, %edx
    xorl    $REQUIRED_MASK0, %edx
    jnz     verify_cpu_no_longmode
    movl    $0x80000000, %eax        /* extended cpuid? */
    cpuid
    cmpl    $0x80000001, %eax
    jb      verify_cpu_no_longmode
    movl    $0x80000001, %eax
    cpuid
    andl    $REQUIRED_MASK1, %edx
    xorl    $REQUIRED_MASK1, %edx
    jnz     verify_cpu_no_longmode
    movl    $1, %eax                 /* SSE */
    cpuid
    andl    $SSE_MASK, %edx
    cmpl    $SSE_MASK, %edx
    jne     verify_cpu_no_longmode
    popf                             /* restore caller passed flags */
    xorl    %eax, %eax
    ret
verify_cpu_no_longmode:
    popf
    movl    $1, %eax
    ret

    .code32
    .balign 4
startup_32:
    movl    %edx, %ss
    addl    $REAL_MODE_BASE, %esp
    movl    %edx, %ds
    movl    %edx, %es
    movl    %edx, %fs
    movl    %edx, %gs

    pushal
    movl    $0x33323332, %eax        /* "2323" */
    movl    %eax, prot_marker        /* moffs32 */
    popal
    movl    $0x00000020, %eax        /* X86_CR4_PAE */
    testl   $0x1000, tr_cr4          /* X86_CR4_LA57: not here */
    jz      1f
    orl     $0x1000, %eax
1:
    movl    %eax, %cr4
    movl    $pml4, %eax
    movl    %eax, %cr3

    movl    $MSR_EFER, %ecx
    rdmsr
    cmp     tr_efer, %eax            /* disp32, not RIP-relative, outside 64-bit mode */
    jne     .Lwrite_efer
    cmp     tr_efer + 4, %edx
    je      .Ldone_efer
.Lwrite_efer:
    movl    tr_efer, %eax
    movl    tr_efer + 4, %edx
    wrmsr
.Ldone_efer:
    movl    $0x80050033, %eax        /* CR0_STATE: PG WP AM NE ET MP PE */
    movl    %eax, %cr0
    /* Compatibility mode now: EFER.LMA set, CS.L clear. */
    movl    $0x4d4f4343, compat_marker  /* "CCOM" */
    ljmpl   $KERNEL_CS, $startup_64

    .code64
startup_64:
    jmpq    *tr_start(%rip)          /* "now jump into the kernel using virtual addresses" */
kernel_entry:
    movq    $0x3436343634363436, %rax   /* "64646464" */
    movq    %rax, long_marker(%rip)
    hlt
    .globl done
done:                                   /* KVM's in-kernel HLT stays halted: a pause finds RIP here */
    jmp     kernel_entry

    .balign 8
tr_gdt:                               /* the GDT pointer lives in the null descriptor, as Linux's does */
    .short  tr_gdt_end - tr_gdt - 1
    .long   tr_gdt
    .short  0
    .quad   0x00cf9b000000ffff        /* __KERNEL32_CS */
    .quad   0x00af9b000000ffff        /* __KERNEL_CS */
    .quad   0x00cf93000000ffff        /* __KERNEL_DS */
tr_gdt_end:
tr_idt:
    .short  0
    .long   0
    .balign 8
tr_efer:
    .quad   0x901                     /* LME SCE NXE */
tr_start:
    .quad   kernel_entry
tr_cr4:
    .long   0
tr_lock:
    .long   0
    .globl real_marker, real_bx, prot_marker, compat_marker, long_marker, tr_lock
real_marker:
    .long   0
real_bx:
    .long   0
prot_marker:
    .long   0
compat_marker:
    .long   0
long_marker:
    .quad   0
rm_stack:
    .space  512
rm_stack_end:

    .balign 4096
    .globl pml4
pml4:
    .quad   pdpt + 0x3
    .balign 4096
pdpt:
    .quad   pd + 0x3
    .balign 4096
pd:
    .quad   0x83                      /* 0-2 MiB, one large page */
    .balign 4096
