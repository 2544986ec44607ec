package io.vmguard.vmi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.memory.GuestMemory;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class VirtualMemoryTest {
    private final GuestMemory ram = TestRam.of(4 << 20);
    private final PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
    private final VirtualMemory memory = new VirtualMemory(new GuestPhysicalMemory(ram),
            new PageTableWalker(new GuestPhysicalMemory(ram), tables.root(), false));

    @Test
    void valuesStraddlingTwoPagesWithUnrelatedFramesReadWhole() throws VmiException {
        tables.map(0x1000, 0x30_0000, PageSize.SIZE_4K).map(0x2000, 0x20_0000, PageSize.SIZE_4K);
        ram.writeInt(0x30_0ffc, 0x4433_2211);
        ram.writeInt(0x20_0000, 0x8877_6655);
        assertEquals(0x8877_6655_4433_2211L, memory.readLong(0x1ffc));
        assertEquals(0x6655_4433, memory.readInt(0x1ffe));
        assertArrayEquals(new byte[] {0x22, 0x33, 0x44, 0x55}, memory.readBytes(0x1ffd, 4));
    }

    @Test
    void anUnmappedByteFailsTheReadWithItsAddress() {
        tables.map(0x1000, 0x30_0000, PageSize.SIZE_4K);
        VmiException failure = assertThrows(VmiException.class, () -> memory.readLong(0x1ffc));
        assertEquals(0x2000, failure.address().orElseThrow());
        assertEquals(0, failure.getStackTrace().length, "guest data errors carry no stack trace");
    }

    @Test
    void aPageOutsideRamFailsTheRead() {
        tables.map(0x1000, 0x7_0000_0000L, PageSize.SIZE_4K);
        assertThrows(VmiException.class, () -> memory.readInt(0x1000));
    }

    @Test
    void cStringsStopAtTheirNulBeforeAnUnmappedPageAndAreBounded() throws VmiException {
        tables.map(0x1000, 0x30_0000, PageSize.SIZE_4K);
        ram.write(0x30_0ff8, "swapper\0".getBytes(StandardCharsets.US_ASCII));
        assertEquals("swapper", memory.readCString(0x1ff8, 64));
        assertEquals("swap", memory.readCString(0x1ff8, 4));
        ram.write(0x30_0ff8, "unending".getBytes(StandardCharsets.US_ASCII));
        assertThrows(VmiException.class, () -> memory.readCString(0x1ff8, 64));
    }

    @Test
    void hugeGuestChosenLengthsAreRefusedBeforeAllocating() {
        assertThrows(VmiException.class, () -> memory.readBytes(0x1000, Integer.MAX_VALUE));
    }
}
