package io.vmguard.devices.dmatest;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.pci.PciBar;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciDevice;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A DMA test device, in the spirit of QEMU's {@code edu}: a PCI function that copies between a 4 KiB
 * buffer of its own and any bus address the guest programs. It exists to prove DMA isolation: a root
 * process that programs it to write over the kernel succeeds when the device's {@link DmaSpace} is guest
 * physical memory and must be stopped when an IOMMU stands behind it (guest/programs/rogue-dma.c).
 *
 * <p><b>IDs.</b> Vendor 0x1234, device 0x11e9: 0x1234 is the unofficial vendor ID QEMU uses for its own
 * test and emulated devices (1234:11e8 is {@code edu}, 1234:1111 the standard VGA); 11e9 is taken by
 * nothing Linux drives, so no guest driver binds it and only a program that looks for it uses it. Class
 * 0xff (a device that fits no class), revision 1, no interrupt pin.
 *
 * <p><b>BAR 0</b>, 32-bit memory, 8 KiB, any access width (1 to 8 bytes) at any offset, little-endian:
 *
 * <pre>
 * 0x000  ID             r   u32  0x54414d44 ("DMAT")
 * 0x004  STATUS         r   u32  0 idle, 1 done, 2 DMA fault, 3 bus master off, 4 bad request
 * 0x008  SOURCE         rw  u64  TO_BUFFER: bus address; TO_MEMORY: offset in the buffer
 * 0x010  DESTINATION    rw  u64  TO_BUFFER: offset in the buffer; TO_MEMORY: bus address
 * 0x018  LENGTH         rw  u32  bytes to copy, 1 to 4096
 * 0x01c  COMMAND        rw  u32  1 TO_BUFFER (the device reads memory), 2 TO_MEMORY (it writes memory)
 * 0x020  FAULT_ADDRESS  r   u64  the bus address of the last refused DMA (DmaFault's address)
 * 0x028  COMPLETED      r   u32  commands that succeeded
 * 0x02c  FAILED         r   u32  commands that failed
 * 0x1000-0x1fff  BUFFER rw       the device's buffer
 * </pre>
 *
 * <p>A write that covers any byte of COMMAND runs the command at once, before the write returns (an
 * 8-byte write at LENGTH sets both); STATUS then says how it went. The copy is all or nothing: the buffer
 * range must lie inside the buffer and the length be 1 to 4096 (else bad request, nothing moves); bus
 * mastering must be on in the command register, as hardware requires before a function masters the bus
 * (else bus master off, nothing moves); a {@link DmaFault} from the DMA space (memory outside guest RAM,
 * or an access the IOMMU refuses) fails the command with DMA fault and the refused address, and moves
 * nothing. A failed command leaves the device as ready as before. Other offsets read 0 and ignore writes.
 */
public final class DmaTestDevice implements PciDevice, Snapshottable {
    public static final int VENDOR_ID = 0x1234;
    public static final int DEVICE_ID = 0x11e9;
    public static final int REVISION = 1;
    public static final int BAR = 0;
    public static final long BAR_SIZE = 0x2000;
    public static final int BUFFER_SIZE = 4096;

    public static final int ID = 0x000, STATUS = 0x004, SOURCE = 0x008, DESTINATION = 0x010, LENGTH = 0x018,
            COMMAND = 0x01c, FAULT_ADDRESS = 0x020, COMPLETED = 0x028, FAILED = 0x02c;
    public static final int BUFFER = 0x1000;
    /** The ID register: "DMAT" in ASCII, little-endian. */
    public static final int ID_VALUE = 0x54414d44;
    public static final int CMD_TO_BUFFER = 1, CMD_TO_MEMORY = 2;
    public static final int STATUS_IDLE = 0, STATUS_DONE = 1, STATUS_DMA_FAULT = 2, STATUS_BUS_MASTER_OFF = 3,
            STATUS_BAD_REQUEST = 4;
    private static final int REGISTERS_END = 0x030;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DmaSpace dma;
    private final PciConfigSpace config = PciConfigSpace.builder(VENDOR_ID, DEVICE_ID)
            .revision(REVISION)
            .subsystem(VENDOR_ID, DEVICE_ID)
            .classCode(0xff, 0x00, 0x00)
            .bar(BAR, PciBar.memory32(BAR_SIZE))
            .build();
    /** The registers as the guest reads them, little-endian; STATUS to FAILED are the device's own state. */
    private final MemorySegment registers = MemorySegment.ofArray(new byte[REGISTERS_END]);
    private final byte[] buffer = new byte[BUFFER_SIZE];

    /** @param dma the function's door to memory: guest-physical without an IOMMU, its translation with one */
    public DmaTestDevice(DmaSpace dma) {
        this.dma = dma;
        putU32(ID, ID_VALUE);
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public synchronized void readBar(int bar, long offset, MemorySegment data) {
        for (int i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, byteAt(bar, offset + i));
        }
    }

    @Override
    public synchronized void writeBar(int bar, long offset, MemorySegment data) {
        boolean command = false;
        for (int i = 0; i < data.byteSize(); i++) {
            long at = offset + i;
            byte value = data.get(ValueLayout.JAVA_BYTE, i);
            if (bar != BAR) {
                continue;
            }
            if (at >= BUFFER && at < BUFFER + BUFFER_SIZE) {
                buffer[(int) (at - BUFFER)] = value;
            } else if (at >= SOURCE && at < COMMAND + 4) {
                registers.set(ValueLayout.JAVA_BYTE, at, value);
                command |= at >= COMMAND;
            }
        }
        if (command) {
            run();
        }
    }

    private byte byteAt(int bar, long offset) {
        if (bar != BAR) {
            return 0;
        }
        if (offset < REGISTERS_END) {
            return registers.get(ValueLayout.JAVA_BYTE, offset);
        }
        if (offset >= BUFFER && offset < BUFFER + BUFFER_SIZE) {
            return buffer[(int) (offset - BUFFER)];
        }
        return 0;
    }

    /** Runs the command the registers hold; sets STATUS and the counters. */
    private void run() {
        int status = execute(u32(COMMAND), u64(SOURCE), u64(DESTINATION), u32(LENGTH));
        putU32(STATUS, status);
        int counter = status == STATUS_DONE ? COMPLETED : FAILED;
        putU32(counter, u32(counter) + 1);
    }

    private int execute(int command, long source, long destination, int length) {
        if (length < 1 || length > BUFFER_SIZE) {
            return STATUS_BAD_REQUEST;
        }
        long bufferOffset = switch (command) {
            case CMD_TO_BUFFER -> destination;
            case CMD_TO_MEMORY -> source;
            default -> -1;
        };
        // Unsigned offsets: anything from 2^63 up is out of the buffer too.
        if (bufferOffset < 0 || bufferOffset > BUFFER_SIZE - length) {
            return STATUS_BAD_REQUEST;
        }
        if (!config.busMasterEnabled()) {
            return STATUS_BUS_MASTER_OFF;
        }
        MemorySegment window = MemorySegment.ofArray(buffer).asSlice(bufferOffset, length);
        try {
            if (command == CMD_TO_BUFFER) {
                dma.read(source, window);
            } else {
                dma.write(destination, window);
            }
            return STATUS_DONE;
        } catch (DmaFault fault) {
            putU64(FAULT_ADDRESS, fault.address());
            return STATUS_DMA_FAULT;
        }
    }

    private int u32(int offset) {
        return registers.get(INT, offset);
    }

    private long u64(int offset) {
        return registers.get(LONG, offset);
    }

    private void putU32(int offset, int value) {
        registers.set(INT, offset, value);
    }

    private void putU64(int offset, long value) {
        registers.set(LONG, offset, value);
    }

    // ---- snapshots: the registers and the buffer; the configuration space is the root complex's ----

    @Override
    public synchronized void saveState(StateWriter out) {
        out.putBytes("registers", registers.toArray(ValueLayout.JAVA_BYTE)).putBytes("buffer", buffer.clone());
    }

    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        byte[] saved = in.getBytes("registers", REGISTERS_END);
        byte[] savedBuffer = in.getBytes("buffer", BUFFER_SIZE);
        MemorySegment image = MemorySegment.ofArray(saved);
        if (image.get(INT, ID) != ID_VALUE) {
            throw invalid(in, "does not hold a DMA test device's ID");
        }
        int status = image.get(INT, STATUS);
        if (status < STATUS_IDLE || status > STATUS_BAD_REQUEST) {
            throw invalid(in, "holds status " + status + ", which the device never sets");
        }
        synchronized (this) {
            MemorySegment.copy(image, 0, registers, 0, REGISTERS_END);
            System.arraycopy(savedBuffer, 0, buffer, 0, BUFFER_SIZE);
        }
    }

    private static SnapshotException invalid(StateReader in, String problem) {
        return new SnapshotException("snapshot field " + (in.path().isEmpty() ? "" : in.path() + ".") + "registers " + problem);
    }
}
