package io.vmguard.engine;

/** The general-purpose registers, instruction pointer and flags of a vCPU (the layout of kvm_regs). */
public record Registers(
        long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
        long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
        long rip, long rflags) {

    /** Bit 1 of RFLAGS is reserved and always set. */
    public static final long RFLAGS_RESERVED = 0x2;

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().rax(rax).rbx(rbx).rcx(rcx).rdx(rdx).rsi(rsi).rdi(rdi).rsp(rsp).rbp(rbp)
                .r8(r8).r9(r9).r10(r10).r11(r11).r12(r12).r13(r13).r14(r14).r15(r15).rip(rip).rflags(rflags);
    }

    /** The sixteen general-purpose registers in encoding order (rax=0 ... r15=15). */
    public long gpr(int index) {
        return switch (index) {
            case 0 -> rax; case 1 -> rcx; case 2 -> rdx; case 3 -> rbx;
            case 4 -> rsp; case 5 -> rbp; case 6 -> rsi; case 7 -> rdi;
            case 8 -> r8; case 9 -> r9; case 10 -> r10; case 11 -> r11;
            case 12 -> r12; case 13 -> r13; case 14 -> r14; case 15 -> r15;
            default -> throw new IllegalArgumentException("no general-purpose register " + index);
        };
    }

    public static final class Builder {
        private long rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip;
        private long rflags = RFLAGS_RESERVED;

        public Builder rax(long v) { rax = v; return this; }
        public Builder rbx(long v) { rbx = v; return this; }
        public Builder rcx(long v) { rcx = v; return this; }
        public Builder rdx(long v) { rdx = v; return this; }
        public Builder rsi(long v) { rsi = v; return this; }
        public Builder rdi(long v) { rdi = v; return this; }
        public Builder rsp(long v) { rsp = v; return this; }
        public Builder rbp(long v) { rbp = v; return this; }
        public Builder r8(long v) { r8 = v; return this; }
        public Builder r9(long v) { r9 = v; return this; }
        public Builder r10(long v) { r10 = v; return this; }
        public Builder r11(long v) { r11 = v; return this; }
        public Builder r12(long v) { r12 = v; return this; }
        public Builder r13(long v) { r13 = v; return this; }
        public Builder r14(long v) { r14 = v; return this; }
        public Builder r15(long v) { r15 = v; return this; }
        public Builder rip(long v) { rip = v; return this; }
        public Builder rflags(long v) { rflags = v; return this; }

        public Registers build() {
            return new Registers(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
        }
    }
}
