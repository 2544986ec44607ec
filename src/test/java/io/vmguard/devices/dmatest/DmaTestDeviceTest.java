package io.vmguard.devices.dmatest;

import static io.vmguard.devices.dmatest.DmaTestDevice.BUFFER;
import static io.vmguard.devices.dmatest.DmaTestDevice.CMD_TO_BUFFER;
import static io.vmguard.devices.dmatest.DmaTestDevice.CMD_TO_MEMORY;
import static io.vmguard.devices.dmatest.DmaTestDevice.COMMAND;
import static io.vmguard.devices.dmatest.DmaTestDevice.COMPLETED;
import static io.vmguard.devices.dmatest.DmaTestDevice.DESTINATION;
import static io.vmguard.devices.dmatest.DmaTestDevice.FAILED;
import static io.vmguard.devices.dmatest.DmaTestDevice.FAULT_ADDRESS;
import static io.vmguard.devices.dmatest.DmaTestDevice.LENGTH;
import static io.vmguard.devices.dmatest.DmaTestDevice.SOURCE;
import static io.vmguard.devices.dmatest.DmaTestDevice.STATUS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.bus.Bus;
import io.vmguard.bus.InterruptLine;
import io.vmguard.bus.MsiSink;
import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.pci.PciAddress;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciRoot;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.FuzzSeeds;
import io.vmguard.testing.GuestRam;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The DMA test device on a PCI root and an MMIO bus, as a guest reaches it: BAR accesses, config space through ECAM. */
class DmaTestDeviceTest {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * A door that refuses one range and counts what passes, as an IOMMU would refuse an unmapped address;
     * otherwise guest RAM.
     */
    private static final class FencedDma implements DmaSpace {
        private final DmaSpace ram;
        private final long fenceStart, fenceEnd;
        final List<String> accesses = new ArrayList<>();

        FencedDma(DmaSpace ram, long fenceStart, long fenceEnd) {
            this.ram = ram;
            this.fenceStart = fenceStart;
            this.fenceEnd = fenceEnd;
        }

        private void check(long address, long length, DmaFault.Access access) throws DmaFault {
            accesses.add(access + " 0x" + Long.toHexString(address) + "+" + length);
            if (address < fenceEnd && address + length > fenceStart) {
                throw new DmaFault(Math.max(address, fenceStart), length, access, "not mapped");
            }
        }

        @Override
        public void read(long address, MemorySegment destination) throws DmaFault {
            check(address, destination.byteSize(), DmaFault.Access.READ);
            ram.read(address, destination);
        }

        @Override
        public void write(long address, MemorySegment source) throws DmaFault {
            check(address, source.byteSize(), DmaFault.Access.WRITE);
            ram.write(address, source);
        }

        @Override
        public short readShort(long address) throws DmaFault {
            throw new AssertionError("the device copies whole ranges");
        }

        @Override
        public int readInt(long address) throws DmaFault {
            throw new AssertionError("the device copies whole ranges");
        }

        @Override
        public long readLong(long address) throws DmaFault {
            throw new AssertionError("the device copies whole ranges");
        }

        @Override
        public void writeShort(long address, short value) throws DmaFault {
            throw new AssertionError("the device copies whole ranges");
        }

        @Override
        public void writeInt(long address, int value) throws DmaFault {
            throw new AssertionError("the device copies whole ranges");
        }
    }

    private static final long FENCE = 0x8000;
    private final GuestRam ram = new GuestRam(0x10000);
    private final FencedDma dma = new FencedDma(ram.dma(), FENCE, FENCE + 0x1000);
    private final DmaTestDevice device = new DmaTestDevice(dma);
    private final Bus mmio = new Bus("MMIO");
    private final PciAddress address;
    private final long bar;

    DmaTestDeviceTest() {
        PciRoot root = new PciRoot(gsi -> InterruptLine.NONE, MsiSink.NONE);
        root.registerOn(new Bus("port I/O"), mmio);
        address = root.add(device);
        bar = device.config().barAddress(DmaTestDevice.BAR);
    }

    // ---- the guest's accesses ----

    private long ecam(int offset) {
        return X86Layout.PCI_ECAM + ((long) address.device() << 15) + offset;
    }

    private int configRead(int offset, int size) {
        MemorySegment data = Arena.ofAuto().allocate(size);
        assertTrue(mmio.read(ecam(offset), data));
        return (int) load(data);
    }

    private void configWrite(int offset, int size, int value) {
        mmio.write(ecam(offset), store(size, value));
    }

    private void enableBusMaster() {
        configWrite(PciConfigSpace.COMMAND, 2, configRead(PciConfigSpace.COMMAND, 2) | PciConfigSpace.COMMAND_BUS_MASTER);
    }

    private long read(int offset, int size) {
        MemorySegment data = Arena.ofAuto().allocate(size);
        assertTrue(mmio.read(bar + offset, data));
        return load(data);
    }

    private void write(int offset, int size, long value) {
        assertTrue(mmio.write(bar + offset, store(size, value)));
    }

    private static long load(MemorySegment data) {
        long value = 0;
        for (int i = 0; i < data.byteSize(); i++) {
            value |= (data.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * i);
        }
        return value;
    }

    private static MemorySegment store(int size, long value) {
        MemorySegment data = Arena.ofAuto().allocate(size);
        for (int i = 0; i < size; i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        return data;
    }

    /** Programs and runs one command; returns STATUS. */
    private int command(int command, long source, long destination, int length) {
        write(SOURCE, 8, source);
        write(DESTINATION, 8, destination);
        write(LENGTH, 4, length);
        write(COMMAND, 4, command);
        return (int) read(STATUS, 4);
    }

    private byte[] bufferBytes(int offset, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) read(BUFFER + offset + i, 1);
        }
        return bytes;
    }

    // ---- tests ----

    @Test
    void itIsFunction1234Colon11e9WithOneEightKibMemoryBarAndNoInterruptPin() {
        assertEquals(0x11e91234, configRead(PciConfigSpace.VENDOR_ID, 4));
        assertEquals(0xff, configRead(PciConfigSpace.CLASS_CODE + 2, 1), "class: fits no class");
        assertEquals(0, configRead(PciConfigSpace.INTERRUPT_PIN, 1));
        configWrite(PciConfigSpace.BAR0, 4, -1);
        assertEquals(~(int) (DmaTestDevice.BAR_SIZE - 1), configRead(PciConfigSpace.BAR0, 4), "BAR sizing");
        configWrite(PciConfigSpace.BAR0, 4, (int) bar);
        assertEquals(DmaTestDevice.ID_VALUE, read(DmaTestDevice.ID, 4));
        assertEquals("DMAT", new String(new byte[] {(byte) read(0, 1), (byte) read(1, 1), (byte) read(2, 1), (byte) read(3, 1)},
                StandardCharsets.US_ASCII));
        assertEquals(DmaTestDevice.STATUS_IDLE, read(STATUS, 4));
    }

    @Test
    void itCopiesGuestMemoryIntoItsBufferAndTheBufferBackToAnotherAddress() {
        enableBusMaster();
        byte[] text = "the device read this from guest memory".getBytes(StandardCharsets.US_ASCII);
        ram.memory().write(0x2000, text);
        assertEquals(DmaTestDevice.STATUS_DONE, command(CMD_TO_BUFFER, 0x2000, 0x100, text.length));
        assertArrayEquals(text, bufferBytes(0x100, text.length));
        assertEquals(DmaTestDevice.STATUS_DONE, command(CMD_TO_MEMORY, 0x100, 0x3005, text.length));
        assertArrayEquals(text, ram.memory().readBytes(0x3005, text.length));
        assertEquals(0, ram.memory().readBytes(0x3005 + text.length, 1)[0], "not a byte more");
        assertEquals(List.of("READ 0x2000+" + text.length, "WRITE 0x3005+" + text.length), dma.accesses);
        assertEquals(2, read(COMPLETED, 4));
        assertEquals(0, read(FAILED, 4));
    }

    @Test
    void theWholeBufferMovesInOneCommand() {
        enableBusMaster();
        for (int i = 0; i < DmaTestDevice.BUFFER_SIZE; i += 8) {
            write(BUFFER + i, 8, 0x0101010101010101L * (i / 8));
        }
        assertEquals(DmaTestDevice.STATUS_DONE, command(CMD_TO_MEMORY, 0, 0x4000, DmaTestDevice.BUFFER_SIZE));
        MemorySegment copied = MemorySegment.ofArray(ram.memory().readBytes(0x4000, DmaTestDevice.BUFFER_SIZE));
        for (int i = 0; i < DmaTestDevice.BUFFER_SIZE; i += 8) {
            assertEquals(0x0101010101010101L * (i / 8), copied.get(LONG, i));
        }
    }

    @Test
    void withBusMasteringOffNothingMovesUntilTheGuestTurnsItOn() {
        assertEquals(0, configRead(PciConfigSpace.COMMAND, 2) & PciConfigSpace.COMMAND_BUS_MASTER, "off after reset");
        write(BUFFER, 8, 0x1122334455667788L);
        assertEquals(DmaTestDevice.STATUS_BUS_MASTER_OFF, command(CMD_TO_MEMORY, 0, 0x2000, 8));
        assertEquals(0, ram.memory().readLong(0x2000));
        assertEquals(List.of(), dma.accesses, "no DMA at all");
        assertEquals(1, read(FAILED, 4));
        enableBusMaster();
        write(COMMAND, 4, CMD_TO_MEMORY);
        assertEquals(DmaTestDevice.STATUS_DONE, read(STATUS, 4));
        assertEquals(0x1122334455667788L, ram.memory().readLong(0x2000));
    }

    @Test
    void aRefusedDmaFailsTheCommandWithTheRefusedAddressAndTheDeviceKeepsWorking() {
        enableBusMaster();
        write(BUFFER, 8, 0x4141414141414141L);
        // Straddling into the fenced page: refused as a whole, so even the bytes before the fence stay as they were.
        assertEquals(DmaTestDevice.STATUS_DMA_FAULT, command(CMD_TO_MEMORY, 0, FENCE - 4, 8));
        assertEquals(FENCE, read(FAULT_ADDRESS, 8));
        assertEquals(0, ram.memory().readLong(FENCE - 4));
        // Reading from it leaves the buffer alone.
        assertEquals(DmaTestDevice.STATUS_DMA_FAULT, command(CMD_TO_BUFFER, FENCE + 0x10, 0, 8));
        assertEquals(FENCE + 0x10, read(FAULT_ADDRESS, 8));
        assertEquals(0x4141414141414141L, read(BUFFER, 8));
        // Outside guest RAM altogether: the identity door refuses it.
        assertEquals(DmaTestDevice.STATUS_DMA_FAULT, command(CMD_TO_MEMORY, 0, 0xfff_0000L, 8));
        assertEquals(0xfff_0000L, read(FAULT_ADDRESS, 8));
        assertEquals(3, read(FAILED, 4));
        // And the next good command works.
        assertEquals(DmaTestDevice.STATUS_DONE, command(CMD_TO_MEMORY, 0, FENCE - 8, 8));
        assertEquals(0x4141414141414141L, ram.memory().readLong(FENCE - 8));
        assertEquals(1, read(COMPLETED, 4));
    }

    @Test
    void badLengthsBufferRangesAndCommandsAreRefusedBeforeAnyDma() {
        enableBusMaster();
        long[][] bad = {
            {CMD_TO_MEMORY, 0, 0x2000, 0},
            {CMD_TO_MEMORY, 0, 0x2000, DmaTestDevice.BUFFER_SIZE + 1},
            {CMD_TO_MEMORY, 0, 0x2000, -1},
            {CMD_TO_MEMORY, 1, 0x2000, DmaTestDevice.BUFFER_SIZE},
            {CMD_TO_MEMORY, DmaTestDevice.BUFFER_SIZE, 0x2000, 1},
            {CMD_TO_MEMORY, Long.MIN_VALUE, 0x2000, 1},
            {CMD_TO_MEMORY, -1, 0x2000, 1},
            {CMD_TO_BUFFER, 0x2000, DmaTestDevice.BUFFER_SIZE - 1, 2},
            {CMD_TO_BUFFER, 0x2000, 0xffff_ffff_ffff_f000L, 0x1000},
            {0, 0, 0x2000, 8},
            {3, 0, 0x2000, 8},
            {0x8000_0002L, 0, 0x2000, 8},
        };
        for (long[] request : bad) {
            assertEquals(DmaTestDevice.STATUS_BAD_REQUEST, command((int) request[0], request[1], request[2], (int) request[3]),
                    Arrays.toString(request));
        }
        assertEquals(List.of(), dma.accesses);
        assertEquals(bad.length, read(FAILED, 4));
    }

    @Test
    void registersReadBackAtEveryWidthAndAnEightByteWriteAtLengthRunsTheCommand() {
        enableBusMaster();
        write(SOURCE, 8, 0x0123456789abcdefL);
        assertEquals(0x0123456789abcdefL, read(SOURCE, 8));
        assertEquals(0x89abcdefL, read(SOURCE, 4));
        assertEquals(0x01234567L, read(SOURCE + 4, 4));
        assertEquals(0xabcdL, read(SOURCE + 1, 2));
        write(SOURCE + 2, 2, 0xbeef);
        assertEquals(0x01234567beefcdefL, read(SOURCE, 8));
        // ID and STATUS are read-only.
        write(DmaTestDevice.ID, 8, -1);
        assertEquals(DmaTestDevice.ID_VALUE | (long) DmaTestDevice.STATUS_IDLE << 32, read(DmaTestDevice.ID, 8));
        // LENGTH and COMMAND together: 16 bytes to memory.
        write(SOURCE, 8, 0);
        write(DESTINATION, 8, 0x2000);
        write(BUFFER, 8, 0x5a5a5a5a5a5a5a5aL);
        write(BUFFER + 8, 8, 0xa5a5a5a5a5a5a5a5L);
        write(LENGTH, 8, (long) CMD_TO_MEMORY << 32 | 16);
        assertEquals(DmaTestDevice.STATUS_DONE, read(STATUS, 4));
        assertEquals(0xa5a5a5a5a5a5a5a5L, ram.memory().readLong(0x2008));
        // The buffer at unaligned widths, and offsets past the registers read 0.
        assertEquals(0xa55a5aL, read(BUFFER + 6, 3));
        assertEquals(0, read(0x800, 8));
        write(0x800, 8, -1);
        assertEquals(0, read(0x800, 8));
    }

    @Test
    void aSnapshotRestoresTheRegistersAndTheBufferIntoAFreshDevice() throws SnapshotException {
        enableBusMaster();
        write(BUFFER + 100, 8, 0x1234_5678_9abc_def0L);
        command(CMD_TO_MEMORY, 100, 0x2000, 8);
        StateWriter out = StateWriter.root();
        device.saveState(out);
        DmaTestDevice fresh = new DmaTestDevice(dma);
        fresh.restoreState(StateReader.of(out.tree()));
        MemorySegment data = Arena.ofAuto().allocate(8);
        fresh.readBar(0, BUFFER + 100, data);
        assertEquals(0x1234_5678_9abc_def0L, data.get(LONG, 0));
        fresh.readBar(0, DESTINATION, data);
        assertEquals(0x2000, data.get(LONG, 0));
        fresh.readBar(0, COMPLETED, data);
        assertEquals(1, data.get(LONG, 0) & 0xffff_ffffL);

        StateWriter corrupt = StateWriter.root().putBytes("registers", new byte[0x30]).putBytes("buffer", new byte[4096]);
        String message = assertThrows(SnapshotException.class, () -> fresh.restoreState(StateReader.of(corrupt.tree()))).getMessage();
        assertEquals("snapshot field registers does not hold a DMA test device's ID", message);
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomAccessesNeverThrowAndOnlyDefinedStatusesComeBack(long seed) {
        Random random = new Random(seed);
        Set<Long> statuses = Set.of(0L, 1L, 2L, 3L, 4L);
        int[] sizes = {1, 2, 4, 8};
        for (int i = 0; i < FuzzSeeds.scaled(5000); i++) {
            int size = sizes[random.nextInt(sizes.length)];
            int offset = random.nextInt(4) == 0 ? random.nextInt((int) DmaTestDevice.BAR_SIZE - size + 1) : random.nextInt(0x30);
            long value = switch (random.nextInt(4)) {
                case 0 -> random.nextLong();
                case 1 -> random.nextInt(3);
                case 2 -> random.nextInt(0x10000);
                default -> random.nextInt(5000);
            };
            switch (random.nextInt(10)) {
                case 0 -> configWrite(PciConfigSpace.COMMAND, 2, random.nextBoolean() ? 0x6 : 0x2);
                case 1, 2, 3 -> read(offset, size);
                default -> write(offset, size, value);
            }
            assertTrue(statuses.contains(read(STATUS, 4)), "status " + read(STATUS, 4) + " " + FuzzSeeds.reproduce(seed));
        }
        for (String access : dma.accesses) {
            long length = Long.parseLong(access.substring(access.indexOf('+') + 1));
            assertTrue(length >= 1 && length <= DmaTestDevice.BUFFER_SIZE, access);
        }
    }
}
