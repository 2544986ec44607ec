package io.vmguard.vmi.dump;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.PhysicalMemory;
import io.vmguard.vmi.VcpuState;
import java.util.List;
import java.util.Map;

/**
 * A guest with two RAM ranges (the second not a whole number of pages) whose bytes say where they are, with
 * pages of zeros among them, and one vCPU whose every register holds a different value.
 */
final class SyntheticGuest implements GuestView {
    static final long LOW_START = 0;
    static final long LOW_SIZE = 640 << 10;
    static final long HIGH_START = 1 << 20;
    static final long HIGH_SIZE = (3L << 20) + 4096 * 3 + 100;

    private final List<PhysicalMemory.Range> ranges = List.of(
            new PhysicalMemory.Range(LOW_START, LOW_SIZE), new PhysicalMemory.Range(HIGH_START, HIGH_SIZE));
    private final VcpuState vcpu = new VcpuState(0, registers(), special(), Map.of(
            Msr.KERNEL_GS_BASE, 0xffff_8880_0f00_0000L, Msr.FS_BASE, 0x7f00_0000_1000L, Msr.GS_BASE, 0xffff_8880_0e00_0000L,
            Msr.LSTAR, 0xffff_ffff_8100_0040L));

    /** The byte at {@code gpa}: zero on every fourth page (holes in the file), else a function of the address. */
    static byte byteAt(long gpa) {
        if ((gpa >>> 12) % 4 == 3) {
            return 0;
        }
        return (byte) ((gpa * 31 + (gpa >>> 12) * 7 + 1) | 1);
    }

    static Registers registers() {
        return new Registers(0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0xffff_c900_0001_3f00L, 0xffff_c900_0001_3f80L,
                0x8888, 0x9999, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0xeeee, 0xffff, 0xffff_ffff_8100_1234L, 0x246);
    }

    static SpecialRegisters special() {
        Segment cs = Segment.code64(0x10);
        Segment ss = Segment.data(0x18);
        Segment ds = new Segment(0, 0xfffff, 0x2b, 0x3, true, 3, true, true, false, false, false, false);
        Segment es = Segment.data(0x20);
        Segment fs = new Segment(0x7f00_0000_1000L, 0xffffffff, 0, 0x3, true, 0, true, true, false, true, false, false);
        Segment gs = new Segment(0xffff_8880_0e00_0000L, 0xffffffff, 0, 0x3, true, 0, true, true, false, true, false, false);
        Segment tr = Segment.tss(0x40, 0xfffffe00_00003000L, 0x4087);
        return new SpecialRegisters(cs, ds, es, fs, gs, ss, tr, Segment.unusableLdt(),
                new DescriptorTable(0xfffffe00_00001000L, 0x7f), new DescriptorTable(0xfffffe00_00000000L, 0xfff),
                0x8005_0033L, 0x7f12_3456_7000L, 0x0000_0000_0123_4000L, 0x0037_06f0L, 0, 0xd01, 0xfee0_0900L);
    }

    @Override
    public PhysicalMemory memory() {
        return new PhysicalMemory() {
            @Override
            public boolean read(long gpa, byte[] destination, int offset, int length) {
                boolean inside = ranges.stream().anyMatch(r -> gpa >= r.start() && gpa + length <= r.end());
                if (!inside) {
                    return false;
                }
                for (int i = 0; i < length; i++) {
                    destination[offset + i] = byteAt(gpa + i);
                }
                return true;
            }

            @Override
            public long end() {
                return ranges.getLast().end();
            }

            @Override
            public List<Range> ranges() {
                return ranges;
            }
        };
    }

    @Override
    public List<VcpuState> vcpus() {
        return List.of(vcpu);
    }

    VcpuState vcpu() {
        return vcpu;
    }
}
