/*
 * The host CPU as the differential tests' oracle, with no KVM: runs a batch of ring-3 test code (the very
 * payload the tests give KVM and the interpreter, assembled once) in this process, at the guest-virtual
 * addresses it was linked for, and writes the memory it left behind back. Built by the tests (HostOracle.java).
 *
 *   host-oracle IMAGE BASE ENTRY EXIT STACK FS GS FAULT_CELL RESUME_CELL     (numbers in hex)
 *
 * IMAGE holds guest memory [BASE, BASE + size of IMAGE): payload, data, stacks. It is read, mapped at BASE
 * (MAP_FIXED_NOREPLACE, read/write/execute, as the sandbox's page tables map it), run from ENTRY with every
 * GPR zero, RSP = STACK, RFLAGS = 2, a fresh x87/SSE state and the FS and GS bases given, then written back.
 * The run ends at the instruction at EXIT (the payload's OUT to the exit port, which faults in ring 3 here).
 *
 * Exceptions are signals. The handler reads the CPU's own vector, error code and CR2 from the signal context
 * (REG_TRAPNO, REG_ERR, REG_CR2) and does what the payload's ring-0 handler does under KVM:
 *   FAULT_CELL != 0: store vector, RIP, error code, CR2 in the fault record whose address is in the cell at
 *                    FAULT_CELL, and resume at the address in the cell at RESUME_CELL (the case's epilogue)
 *                    with the registers, RSP and RFLAGS as of the fault (DifferentialHarness);
 *   FAULT_CELL == 0: end the batch (FpDifferentialRig).
 * Prints one line: "exit", or "fault VECTOR RIP ERROR CR2 R15" for a batch ended by a fault.
 *
 * The handler runs on its own stack (the batch's RSP is anything) and with the batch's FS base, so it and
 * the code it calls use no thread-local storage (-fno-stack-protector, no errno, no library calls).
 * A seccomp filter makes every system call from outside this program's own code a SIGSYS (reported as
 * #UD, vector 6: the sandbox runs with EFER.SCE clear, where SYSCALL is #UD), so test code cannot reach the
 * kernel. (INT 0x80 is caught the same way and so also reported as #UD; the sandbox raises #GP for it. No
 * test uses it.)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

/* Shared with the assembly below. */
uint64_t oracle_in_batch, oracle_entry, oracle_stack, oracle_fs, oracle_gs, oracle_host_fs, oracle_host_gs, oracle_host_rsp;
static const uint32_t default_mxcsr = 0x1f80;
uint32_t oracle_mxcsr = 0x1f80;

static uint64_t base, limit, exit_rip, fault_cell, resume_cell;
static volatile uint64_t stop_vector = -1, stop_rip, stop_error, stop_cr2, stop_r15;

void oracle_enter(void);
void oracle_return(void);

__asm__(
    ".text\n"
    ".globl oracle_enter\n"
    "oracle_enter:\n"
    "    push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
    "    mov %rsp, oracle_host_rsp(%rip)\n"
    "    movq $1, oracle_in_batch(%rip)\n"
    "    rdfsbase %rax; mov %rax, oracle_host_fs(%rip)\n"
    "    rdgsbase %rax; mov %rax, oracle_host_gs(%rip)\n"
    "    mov oracle_fs(%rip), %rax; wrfsbase %rax\n"
    "    mov oracle_gs(%rip), %rax; wrgsbase %rax\n"
    "    fninit\n"
    "    ldmxcsr oracle_mxcsr(%rip)\n"
    "    pxor %xmm0, %xmm0; pxor %xmm1, %xmm1; pxor %xmm2, %xmm2; pxor %xmm3, %xmm3\n"
    "    pxor %xmm4, %xmm4; pxor %xmm5, %xmm5; pxor %xmm6, %xmm6; pxor %xmm7, %xmm7\n"
    "    pxor %xmm8, %xmm8; pxor %xmm9, %xmm9; pxor %xmm10, %xmm10; pxor %xmm11, %xmm11\n"
    "    pxor %xmm12, %xmm12; pxor %xmm13, %xmm13; pxor %xmm14, %xmm14; pxor %xmm15, %xmm15\n"
    "    mov oracle_stack(%rip), %rsp\n"
    "    push oracle_entry(%rip)\n"
    "    push $2; popfq\n"
    "    xor %eax, %eax; xor %ecx, %ecx; xor %edx, %edx; xor %ebx, %ebx; xor %ebp, %ebp; xor %esi, %esi\n"
    "    xor %edi, %edi; xor %r8d, %r8d; xor %r9d, %r9d; xor %r10d, %r10d; xor %r11d, %r11d\n"
    "    xor %r12d, %r12d; xor %r13d, %r13d; xor %r14d, %r14d; xor %r15d, %r15d\n"
    "    ret\n" /* to the entry, leaving RSP at the stack top */
    ".globl oracle_return\n"
    "oracle_return:\n"
    "    mov oracle_host_rsp(%rip), %rsp\n"
    "    movq $0, oracle_in_batch(%rip)\n"
    "    mov oracle_host_fs(%rip), %rax; wrfsbase %rax\n"
    "    mov oracle_host_gs(%rip), %rax; wrgsbase %rax\n"
    "    push $2; popfq\n"
    "    fninit\n"
    "    ldmxcsr oracle_mxcsr(%rip)\n"
    "    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
    "    ret\n");

/* write(2) and _exit(2) without libc: its wrappers read thread-local state through FS, the batch's here. */
static long raw_syscall3(long number, long a, long b, long c) {
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return result;
}

static void die(const char *text) {
    size_t n = 0;
    while (text[n]) {
        n++;
    }
    raw_syscall3(1, 2, (long) text, (long) n);
    raw_syscall3(231, 3, 0, 0);
}

static void on_signal(int sig, siginfo_t *info, void *context) {
    (void) info;
    greg_t *g = ((ucontext_t *) context)->uc_mcontext.gregs;
    uint64_t rip = (uint64_t) g[REG_RIP];
    uint64_t vector = (uint64_t) g[REG_TRAPNO];
    if (sig == SIGSYS) {
        vector = 6; /* a system call from the batch: #UD with EFER.SCE clear, as in the sandbox */
        rip -= 2;   /* SIGSYS reports the RIP after the SYSCALL; #UD the SYSCALL */
    }
    if (!oracle_in_batch) {
        die("host-oracle: a fault in the oracle itself\n");
    }
    if (rip == exit_rip || fault_cell == 0) {
        if (rip != exit_rip) {
            stop_vector = vector;
            stop_rip = rip;
            stop_error = (uint64_t) g[REG_ERR];
            stop_cr2 = (uint64_t) g[REG_CR2];
            stop_r15 = (uint64_t) g[REG_R15];
        }
        g[REG_RIP] = (greg_t) (uintptr_t) oracle_return;
        return;
    }
    uint64_t *record = (uint64_t *) *(uint64_t *) fault_cell;
    record[0] = vector;
    record[1] = rip;
    record[2] = (uint64_t) g[REG_ERR];
    record[3] = (uint64_t) g[REG_CR2];
    g[REG_RIP] = (greg_t) *(uint64_t *) resume_cell;
}

/* Every system call whose RIP lies in [base, limit) traps (SIGSYS); the rest are allowed. */
static void forbid_system_calls_from_the_batch(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t) (base >> 32), 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t) base, 0, 3),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t) limit, 2, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        perror("host-oracle: seccomp");
        exit(2);
    }
}

static uint64_t hex(const char *text) {
    return strtoull(text, NULL, 16);
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: host-oracle IMAGE BASE ENTRY EXIT STACK FS GS FAULT_CELL RESUME_CELL\n");
        return 2;
    }
    if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE)) {
        fprintf(stderr, "host-oracle: the kernel does not allow FSGSBASE in user mode\n");
        return 2;
    }
    base = hex(argv[2]);
    oracle_entry = hex(argv[3]);
    exit_rip = hex(argv[4]);
    oracle_stack = hex(argv[5]);
    oracle_fs = hex(argv[6]);
    oracle_gs = hex(argv[7]);
    fault_cell = hex(argv[8]);
    resume_cell = hex(argv[9]);
    (void) default_mxcsr;

    int fd = open(argv[1], O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 2;
    }
    size_t size = (size_t) st.st_size;
    limit = base + size;
    void *memory = mmap((void *) base, size, PROT_READ | PROT_WRITE | PROT_EXEC,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_POPULATE, -1, 0);
    if (memory != (void *) base) {
        perror("host-oracle: mapping the guest's memory at its address");
        return 2;
    }
    for (size_t done = 0; done < size;) {
        ssize_t n = pread(fd, (char *) memory + done, size - done, (off_t) done);
        if (n <= 0) {
            perror("host-oracle: reading the image");
            return 2;
        }
        done += (size_t) n;
    }

    static char signal_stack[256 * 1024];
    stack_t ss = {.ss_sp = signal_stack, .ss_size = sizeof signal_stack};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    if (sigaltstack(&ss, NULL) != 0) {
        perror("host-oracle: sigaltstack");
        return 2;
    }
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigaction(signals[i], &sa, NULL) != 0) {
            perror("host-oracle: sigaction");
            return 2;
        }
    }
    alarm(60);
    forbid_system_calls_from_the_batch();

    oracle_enter();

    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, (char *) memory + done, size - done, (off_t) done);
        if (n <= 0) {
            perror("host-oracle: writing the image back");
            return 2;
        }
        done += (size_t) n;
    }
    if (stop_vector == (uint64_t) -1) {
        printf("exit\n");
    } else {
        printf("fault %lx %lx %lx %lx %lx\n", (unsigned long) stop_vector, (unsigned long) stop_rip,
                (unsigned long) stop_error, (unsigned long) stop_cr2, (unsigned long) stop_r15);
    }
    return 0;
}
