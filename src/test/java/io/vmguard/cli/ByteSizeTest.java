package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ByteSizeTest {
    @Test
    void readsBinaryUnitsAsUsersWriteThem() {
        assertEquals(256L << 20, ByteSize.parse("256M"));
        assertEquals(256L << 20, ByteSize.parse("256MiB"));
        assertEquals(256L << 20, ByteSize.parse("256mb"));
        assertEquals(1L << 30, ByteSize.parse("1G"));
        assertEquals(4096, ByteSize.parse("4k"));
        assertEquals(65536, ByteSize.parse("65536"));
    }

    @Test
    void rejectsWhatDoesNotParseOrOverflows() {
        assertEquals("cannot parse size 'lots' (write e.g. 256M or 1G)",
                assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("lots")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("-1M"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("1.5G"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("99999999999T"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("99999999999999999999"));
    }
}
