package io.vmguard.engine.interp;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.testing.PayloadAssembler;
import io.vmguard.testing.PayloadMachine;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An interpreted vCPU put straight into real mode or 32-bit protected mode, running a snippet of GNU
 * assembler (.code16 / .code32) until HLT. Protected mode gets a GDT at {@link #GDT} (null, flat code
 * 0x08, flat data 0x10, and whatever a test adds at 0x18 and up) and an IDT at {@link #IDT} whose gates
 * for the faults lead to a handler that records vector, error code and EIP at {@link #FAULT} and halts.
 */
final class ModeRig implements AutoCloseable {
    static final long GDT = 0x1000;
    static final long IDT = 0x2000;
    static final long FAULT = 0x500;
    static final long HANDLERS = 0x3000;
    static final long CODE = 0x8000;
    static final int CODE32 = 0x08, DATA32 = 0x10;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final PayloadMachine machine;

    ModeRig() throws Exception {
        this(new InterpEngine());
    }

    /** A rig on {@code engine}: {@link #runLong} runs on any engine (the other modes set up the interpreter's way). */
    ModeRig(io.vmguard.engine.Engine engine) throws Exception {
        machine = PayloadMachine.create(engine);
    }

    /** Real mode, CS = CODE >> 4, IP 0, the other segments 0, SP 0x7000 (on any engine). */
    VcpuExit runReal(String source, Registers.Builder registers) throws Exception {
        machine.memory.write(CODE, assemble(".code16", source));
        Segment data = CpuState.realModeSegment(0, 0x3);
        Segment cs = CpuState.realModeSegment((int) (CODE >> 4), 0xb);
        SpecialRegisters now = machine.vcpu.specialRegisters();
        Segment tr = new Segment(0, 0xffff, 0, 0xb, true, 0, false, false, false, false, false, false);
        Segment ldt = new Segment(0, 0xffff, 0, 0x2, true, 0, false, false, false, false, false, false);
        machine.vcpu.setSpecialRegisters(new SpecialRegisters(cs, data, data, data, data, data, tr, ldt,
                new DescriptorTable(0, 0xffff), new DescriptorTable(0, 0x3ff), 0x6000_0010L, 0, 0, 0, 0, 0, now.apicBase()));
        machine.vcpu.setRegisters(registers.rip(0).rsp(0x7000).rflags(Registers.RFLAGS_RESERVED).build());
        return machine.vcpu.run();
    }

    /** 32-bit protected mode (ring 0, flat), paging off unless {@code cr0}/{@code cr3}/{@code cr4} say so. */
    VcpuExit runProtected(String source, Registers.Builder registers, long cr0, long cr3, long cr4, long efer) throws Exception {
        machine.memory.write(CODE, assemble(".code32", source));
        descriptor(0, 0);
        descriptor(CODE32, 0x00cf_9b00_0000_ffffL);
        descriptor(DATA32, 0x00cf_9300_0000_ffffL);
        byte[] handlers = assemble(".code32", faultHandlers());
        machine.memory.write(HANDLERS, handlers);
        for (int vector = 0; vector < 32; vector++) {
            long target = HANDLERS + 16L * vector;
            long gate = (target & 0xffff) | ((long) CODE32 << 16) | (0x8eL << 40) | ((target & 0xffff_0000L) << 32);
            machine.memory.slice(IDT + 8L * vector, 8).set(U64, 0, gate);
        }
        Segment code = new Segment(0, 0xffff_ffff, CODE32, 0xb, true, 0, true, true, false, true, false, false);
        Segment data = new Segment(0, 0xffff_ffff, DATA32, 0x3, true, 0, true, true, false, true, false, false);
        SpecialRegisters now = machine.vcpu.specialRegisters();
        Segment tss = new Segment(0, 0x67, 0, 0xb, true, 0, false, false, false, false, false, false);
        machine.vcpu.setSpecialRegisters(new SpecialRegisters(code, data, data, data, data, data, tss, now.ldt(),
                new DescriptorTable(GDT, 0xff), new DescriptorTable(IDT, 256 * 8 - 1), cr0 | 0x11, 0, cr3, cr4, 0, efer,
                now.apicBase()));
        machine.vcpu.setRegisters(registers.rip(CODE).rsp(0x7000).rflags(Registers.RFLAGS_RESERVED).build());
        return machine.vcpu.run();
    }

    static final int USER_CODE32 = 0x18 | 3, USER_DATA = 0x20 | 3, USER_CODE64 = 0x28 | 3, KERNEL_CODE64 = 0x30, KERNEL_DATA = 0x38;
    /** Ring-3 code with a 16-bit default size (D clear), for 16-bit code in compatibility mode. */
    static final int USER_CODE16 = 0x48 | 3;

    /**
     * Long mode, ring 0 in 64-bit code (CS 0x30, SS/DS/ES 0x38) at {@link #CODE}: the GDT also has the flat
     * 32-bit ring-0 code 0x08 and data 0x10, ring-3
     * 32-bit code 0x1b, data 0x23 and 64-bit code 0x2b (the order SYSCALL/SYSRET want, STAR[63:48] = 0x18),
     * 0-2 MiB identity-mapped (user-accessible) by 4-level tables at 0x20000, a 64-bit TSS at 0x4000 with
     * RSP0 0x6000 and an I/O bitmap allowing every port, a 64-bit IDT at {@link #IDT} with no gates unless {@link #gate64} adds them.
     */
    VcpuExit runLong(String source) throws Exception {
        machine.memory.write(CODE, assemble(".code64", source));
        descriptor(CODE32, 0x00cf_9b00_0000_ffffL);
        descriptor(DATA32, 0x00cf_9300_0000_ffffL);
        descriptor(0x18, 0x00cf_fb00_0000_ffffL);
        descriptor(0x20, 0x00cf_f300_0000_ffffL);
        descriptor(0x28, 0x00af_fb00_0000_ffffL);
        descriptor(0x30, 0x00af_9b00_0000_ffffL);
        descriptor(0x38, 0x00cf_9300_0000_ffffL);
        descriptor(0x48, 0x008f_fb00_0000_ffffL);
        write64(0x20000, 0x21000 | 7);
        write64(0x21000, 0x22000 | 7);
        write64(0x22000, 0x87);
        write64(0x4004, 0x6000);
        // An all-zero I/O permission bitmap after the TSS (every port allowed from ring 3), then its 0xff end.
        machine.memory.slice(0x4066, 2).set(U16, 0, (short) 0x68);
        machine.memory.fill(0x4068, 0x2000, (byte) 0);
        machine.memory.fill(0x4068 + 0x2000, 1, (byte) 0xff);
        Segment code = new Segment(0, 0xffff_ffff, KERNEL_CODE64, 0xb, true, 0, false, true, true, true, false, false);
        Segment data = new Segment(0, 0xffff_ffff, KERNEL_DATA, 0x3, true, 0, true, true, false, true, false, false);
        Segment tss = new Segment(0x4000, 0x68 + 0x2000, 0x40, 0xb, true, 0, false, false, false, false, false, false);
        SpecialRegisters now = machine.vcpu.specialRegisters();
        machine.vcpu.setSpecialRegisters(new SpecialRegisters(code, data, data, data, data, data, tss, now.ldt(),
                new DescriptorTable(GDT, 0xff), new DescriptorTable(IDT, 256 * 16 - 1), 0x8000_0011L, 0, 0x20000, 0x20, 0,
                SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA | SpecialRegisters.EFER_SCE, now.apicBase()));
        machine.vcpu.setRegisters(Registers.builder().rip(CODE).rsp(0x7000).rflags(Registers.RFLAGS_RESERVED).build());
        return machine.vcpu.run();
    }

    /** A 64-bit interrupt gate for {@code vector} to {@code target} in the 64-bit kernel code, callable from {@code dpl}. */
    void gate64(int vector, long target, int dpl) {
        long low = (target & 0xffff) | ((long) KERNEL_CODE64 << 16) | ((0x8eL | (long) dpl << 5) << 40) | ((target & 0xffff_0000L) << 32);
        write64(IDT + 16L * vector, low);
        write64(IDT + 16L * vector + 8, target >>> 32);
    }

    /**
     * One 16-byte stub per vector: pushes the vector (and a 0 error code where the CPU pushes none), jumps
     * to a common tail that stores vector, error code and faulting EIP at FAULT and halts.
     */
    private static String faultHandlers() {
        StringBuilder s = new StringBuilder();
        for (int v = 0; v < 32; v++) {
            boolean error = GuestFault.pushesErrorCode(v);
            s.append(".balign 16\n");
            if (!error) {
                s.append("pushl $0\n");
            }
            s.append("pushl $").append(v).append("\n");
            s.append("jmp common\n");
        }
        s.append(".balign 16\ncommon:\n")
                .append("popl %eax\nmovl %eax, %ss:0x500\n")   // vector (through SS: DS may be the segment under test)
                .append("popl %eax\nmovl %eax, %ss:0x504\n")   // error code
                .append("popl %eax\nmovl %eax, %ss:0x508\n")   // EIP
                .append("hlt\n");
        return s.toString();
    }

    /** An interrupt gate for {@code vector} to {@code target} in the flat ring-0 code segment, callable from {@code dpl}. */
    void gate(int vector, long target, int dpl) {
        long gate = (target & 0xffff) | ((long) CODE32 << 16) | ((0x8eL | (long) dpl << 5) << 40) | ((target & 0xffff_0000L) << 32);
        machine.memory.slice(IDT + 8L * vector, 8).set(U64, 0, gate);
    }

    void descriptor(int selector, long descriptor) {
        machine.memory.slice(GDT + (selector & ~7), 8).set(U64, 0, descriptor);
    }

    int faultVector() {
        return read32(FAULT);
    }

    int faultError() {
        return read32(FAULT + 4);
    }

    int read32(long address) {
        return machine.memory.slice(address, 4).get(U32, 0);
    }

    int read16(long address) {
        return machine.memory.slice(address, 2).get(U16, 0) & 0xffff;
    }

    void write32(long address, int value) {
        machine.memory.slice(address, 4).set(U32, 0, value);
    }

    void write64(long address, long value) {
        machine.memory.slice(address, 8).set(U64, 0, value);
    }

    /** Assembles {@code source} after {@code directive} (.code16/.code32) into flat bytes (no relocations). */
    static byte[] assemble(String directive, String source) throws IOException {
        Path dir = Files.createTempDirectory("mode-rig");
        try {
            Path s = dir.resolve("snippet.S");
            Path o = dir.resolve("snippet.o");
            Path bin = dir.resolve("snippet.bin");
            Files.writeString(s, directive + "\n" + source + "\n");
            PayloadAssembler.run("as", "--32", "-o", o.toString(), s.toString());
            PayloadAssembler.run("objcopy", "-O", "binary", "--only-section=.text", o.toString(), bin.toString());
            return Files.readAllBytes(bin);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    @Override
    public void close() {
        machine.close();
    }
}
