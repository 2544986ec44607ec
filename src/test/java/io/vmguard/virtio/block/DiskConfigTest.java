package io.vmguard.virtio.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class DiskConfigTest {
    @Test
    void aFileAloneIsAWritableDiskNamedAfterIt() {
        DiskConfig disk = DiskConfig.parse("/images/root.img");
        assertEquals(new DiskConfig(Path.of("/images/root.img"), false, "root.img"), disk);
    }

    @Test
    void readonlyAndRoBothMakeItReadOnly() {
        assertEquals(true, DiskConfig.parse("a.img,readonly").readOnly());
        assertEquals(true, DiskConfig.parse("a.img,ro").readOnly());
    }

    @Test
    void theSerialCanBeGiven() {
        DiskConfig disk = DiskConfig.parse("a.img,serial=DATA-1,ro");
        assertEquals("DATA-1", disk.serial());
        assertEquals(true, disk.readOnly());
    }

    @Test
    void badFormsAreRejectedInOneLine() {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> DiskConfig.parse("a.img,cache=none"));
        assertEquals("disk option 'cache=none' is not known (use FILE[,readonly|ro][,serial=ID])", unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DiskConfig.parse(""));
        assertThrows(IllegalArgumentException.class, () -> DiskConfig.parse(",ro"));
        assertThrows(IllegalArgumentException.class, () -> DiskConfig.parse("a.img,"));
        assertThrows(IllegalArgumentException.class, () -> DiskConfig.parse("a.img,serial=123456789012345678901"));
        assertThrows(IllegalArgumentException.class, () -> DiskConfig.parse("a.img,serial=with space"));
    }

    @Test
    void theDefaultSerialIsThePrintableFileNameCutTo20Bytes() {
        assertEquals("a-very-long-disk-ima", DiskConfig.defaultSerial(Path.of("/x/a-very-long-disk-image-name.img")));
        assertEquals("d_sk_1.img", DiskConfig.defaultSerial(Path.of("d\u00efsk 1.img")));
    }

    @Test
    void theIdIsNulPaddedTo20BytesWithoutATerminatorAtFullLength() {
        assertArrayEquals(Arrays.copyOf("abc".getBytes(), 20), new DiskConfig(Path.of("x"), false, "abc").serialBytes());
        byte[] full = "ABCDEFGHIJKLMNOPQRST".getBytes();
        assertArrayEquals(full, new DiskConfig(Path.of("x"), false, "ABCDEFGHIJKLMNOPQRST").serialBytes());
    }
}
