package io.vmguard.engine.kvm;

import io.vmguard.engine.VcpuExit;
import java.lang.foreign.MemorySegment;

/**
 * The elements of one KVM_EXIT_IO. A plain IN/OUT has one; a string instruction (INS/OUTS, with or
 * without REP) arrives as {@code count} consecutive elements of {@code size} bytes in kvm_run's data
 * area. Each becomes its own exit with its own slice, handed out in order, so a device sees one access
 * per element and a read lands in the element the guest will store next. KVM is re-entered only when
 * all have been handed out; it then copies the whole data area to or from guest memory.
 */
final class PortIoElements {
    private final MemorySegment run;
    private final boolean in;
    private final int port;
    private final int size;
    private final long count;
    private final long dataOffset;
    private long next;

    private PortIoElements(MemorySegment run, boolean in, int port, int size, long count, long dataOffset) {
        this.run = run;
        this.in = in;
        this.port = port;
        this.size = size;
        this.count = count;
        this.dataOffset = dataOffset;
    }

    /**
     * Reads kvm_run's io block; returns null with nothing handed out when it is malformed (a size other
     * than 1, 2 or 4, no elements, or a data area outside the mapping), which the caller reports.
     */
    static PortIoElements from(MemorySegment run) {
        int direction = KvmRunLayout.u8(run, KvmRunLayout.IO_DIRECTION);
        int size = KvmRunLayout.u8(run, KvmRunLayout.IO_SIZE);
        int port = KvmRunLayout.u16(run, KvmRunLayout.IO_PORT);
        long count = KvmRunLayout.u32(run, KvmRunLayout.IO_COUNT);
        long dataOffset = KvmRunLayout.u64(run, KvmRunLayout.IO_DATA_OFFSET);
        boolean sizeOk = size == 1 || size == 2 || size == 4;
        boolean directionOk = direction == KvmRunLayout.IO_IN || direction == KvmRunLayout.IO_OUT;
        if (!sizeOk || !directionOk || count == 0 || dataOffset < KvmRunLayout.LAYOUT.byteSize()
                || dataOffset > run.byteSize() || count * size > run.byteSize() - dataOffset) {
            return null;
        }
        return new PortIoElements(run, direction == KvmRunLayout.IO_IN, port, size, count, dataOffset);
    }

    /** Describes a malformed io block for an InternalError. */
    static String describeMalformed(MemorySegment run) {
        return String.format("KVM_EXIT_IO with a malformed io block: direction %d, size %d, port 0x%x, count %d, data_offset 0x%x",
                KvmRunLayout.u8(run, KvmRunLayout.IO_DIRECTION), KvmRunLayout.u8(run, KvmRunLayout.IO_SIZE),
                KvmRunLayout.u16(run, KvmRunLayout.IO_PORT), KvmRunLayout.u32(run, KvmRunLayout.IO_COUNT),
                KvmRunLayout.u64(run, KvmRunLayout.IO_DATA_OFFSET));
    }

    boolean hasNext() {
        return next < count;
    }

    VcpuExit next() {
        if (!hasNext()) {
            throw new IllegalStateException("all " + count + " I/O elements were handed out");
        }
        MemorySegment data = run.asSlice(dataOffset + next * size, size);
        next++;
        return in ? new VcpuExit.IoIn(port, data) : new VcpuExit.IoOut(port, data);
    }
}
