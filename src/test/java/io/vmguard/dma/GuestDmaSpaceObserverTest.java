package io.vmguard.dma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The identity door tells its observer of every write that reached guest memory, after the bytes are there. */
class GuestDmaSpaceObserverTest {
    private record Write(long address, long length, byte firstByte) {}

    private final GuestMemory memory = GuestMemory.wrap(List.of(new MemoryRegion(0, MemorySegment.ofArray(new byte[0x10000]))));
    private final List<Write> heard = new ArrayList<>();
    private final GuestDmaSpace dma = new GuestDmaSpace(memory,
            (address, length) -> heard.add(new Write(address, length, memory.readByte(address))));

    @Test
    void everyKindOfWriteIsHeardWithItsRangeOnceItsBytesAreInPlace() throws DmaFault {
        dma.write(0x2ffe, MemorySegment.ofArray(new byte[] {7, 8, 9, 10}));
        dma.writeShort(0x3000, (short) 0x0b0b);
        dma.writeInt(0x4000, 0x0c0c0c0c);

        assertEquals(List.of(new Write(0x2ffe, 4, (byte) 7), new Write(0x3000, 2, (byte) 0x0b), new Write(0x4000, 4, (byte) 0x0c)),
                heard);
    }

    @Test
    void aWriteIsAnnouncedBeforeItsBytesChange() throws DmaFault {
        List<String> told = new ArrayList<>();
        GuestDmaSpace announced = new GuestDmaSpace(memory, new DeviceWriteObserver() {
            @Override
            public void writing(long address, long length) {
                told.add("writing " + Long.toHexString(address) + "+" + length + " holding " + memory.readByte(address));
            }

            @Override
            public void written(long address, long length) {
                told.add("written " + Long.toHexString(address) + "+" + length + " holding " + memory.readByte(address));
            }
        });
        announced.write(0x5000, MemorySegment.ofArray(new byte[] {9, 9}));
        announced.writeInt(0x6000, 8);

        assertEquals(List.of("writing 5000+2 holding 0", "written 5000+2 holding 9", "writing 6000+4 holding 0",
                "written 6000+4 holding 8"), told);
    }

    @Test
    void readsRefusedWritesAndEmptyWritesAreNotHeard() throws DmaFault {
        dma.read(0x1000, MemorySegment.ofArray(new byte[16]));
        dma.readShort(0x1000);
        dma.readInt(0x1000);
        dma.readLong(0x1000);
        dma.write(0x1000, MemorySegment.ofArray(new byte[0]));
        assertThrows(DmaFault.class, () -> dma.write(0xfffe, MemorySegment.ofArray(new byte[4])));
        assertThrows(DmaFault.class, () -> dma.writeInt(0x10000, 1));

        assertEquals(List.of(), heard);
    }
}
