package io.vmguard.testing;

import io.vmguard.bus.BusDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/** A test device: records every access and answers reads with a function of offset and width. */
public final class RecordingDevice implements BusDevice {
    public record Access(long offset, int width, long value) {}

    public interface Answer {
        long value(long offset, int width);
    }

    private final Answer answer;
    private final List<Access> writes = new ArrayList<>();
    private final List<Access> reads = new ArrayList<>();

    public RecordingDevice() {
        this((offset, width) -> -1L);
    }

    public RecordingDevice(Answer answer) {
        this.answer = answer;
    }

    @Override
    public synchronized void read(long offset, MemorySegment data) {
        int width = (int) data.byteSize();
        long value = answer.value(offset, width);
        store(data, value);
        reads.add(new Access(offset, width, load(data)));
    }

    @Override
    public synchronized void write(long offset, MemorySegment data) {
        writes.add(new Access(offset, (int) data.byteSize(), load(data)));
    }

    public synchronized List<Access> writes() {
        return List.copyOf(writes);
    }

    public synchronized List<Access> reads() {
        return List.copyOf(reads);
    }

    public synchronized List<Long> writtenValues() {
        return writes.stream().map(Access::value).toList();
    }

    /** Little-endian value of a 1-8 byte access. */
    public static long load(MemorySegment data) {
        long value = 0;
        for (int i = (int) data.byteSize() - 1; i >= 0; i--) {
            value = (value << 8) | Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, i));
        }
        return value;
    }

    public static void store(MemorySegment data, long value) {
        for (int i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
    }
}
