package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** QEMU's fw_cfg port protocol, as test kernels use it: select with a 16-bit write, then read byte by byte. */
class FwCfgTest {
    private static final int SELECTOR = 0x510;
    private static final int DATA = 0x511;

    private final PortIo ports = new PortIo();
    private FwCfg device;

    @BeforeEach
    void attach() {
        device = new FwCfg(256L << 20, 1);
        ports.bus.register(FwCfg.PORTS, device);
    }

    private byte[] item(PortIo io, int key, int length) {
        io.outw(SELECTOR, key);
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) io.inb(DATA);
        }
        return bytes;
    }

    private long littleEndian(byte[] bytes) {
        long value = 0;
        for (int i = bytes.length - 1; i >= 0; i--) {
            value = (value << 8) | (bytes[i] & 0xff);
        }
        return value;
    }

    @Test
    void theSignatureIsQemuAndTheIdOffersThePortInterfaceOnly() {
        assertEquals("QEMU", new String(item(ports, FwCfg.SIGNATURE, 4), StandardCharsets.US_ASCII));
        assertEquals(1, littleEndian(item(ports, FwCfg.ID, 4)), "bit 0: traditional interface; bit 1 (DMA) clear");
    }

    @Test
    void ramSizeAndCpuCountAreTheMachines() {
        assertEquals(256L << 20, littleEndian(item(ports, FwCfg.RAM_SIZE, 8)));
        assertEquals(1, littleEndian(item(ports, FwCfg.NB_CPUS, 2)));
        assertEquals(1, littleEndian(item(ports, FwCfg.MAX_CPUS, 2)));
        assertArrayEquals(new byte[4], item(ports, FwCfg.FILE_DIR, 4), "no files: a big-endian count of 0");
    }

    @Test
    void readsPastTheEndAndUnknownItemsAreZeroAndSelectingRewinds() {
        assertArrayEquals(new byte[] {'Q', 'E', 'M', 'U', 0, 0}, item(ports, FwCfg.SIGNATURE, 6));
        assertArrayEquals(new byte[3], item(ports, 0x4242, 3));
        ports.outw(SELECTOR, FwCfg.SIGNATURE);
        assertEquals('Q', ports.inb(DATA));
        ports.outb(DATA, 0x55); // ignored, as in QEMU since 2.4
        assertEquals('E', ports.inb(DATA));
        ports.outw(SELECTOR, FwCfg.SIGNATURE);
        assertEquals('Q', ports.inb(DATA), "selecting again starts the item over");
        assertEquals(0, ports.inb(SELECTOR));
    }

    @Test
    void theSelectedItemAndPositionSurviveASnapshot() throws Exception {
        ports.outw(SELECTOR, FwCfg.SIGNATURE);
        ports.inb(DATA);
        PortIo other = new PortIo();
        FwCfg restored = new FwCfg(256L << 20, 1);
        other.bus.register(FwCfg.PORTS, restored);

        SnapshotJson.copy(device, restored);

        assertEquals('E', other.inb(DATA));
    }
}
