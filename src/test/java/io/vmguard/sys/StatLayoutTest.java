package io.vmguard.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemoryLayout.PathElement;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatLayoutTest {
    @TempDir
    Path dir;

    @Test
    void theLayoutIsX8664sStructStat() {
        assertEquals(144, StatLayout.LAYOUT.byteSize());
        assertEquals(48, StatLayout.LAYOUT.byteOffset(PathElement.groupElement("st_size")));
        assertEquals(64, StatLayout.LAYOUT.byteOffset(PathElement.groupElement("st_blocks")));
    }

    @Test
    void allocatedBytesCountDataAndNotHoles() throws IOException, NativeException {
        Path sparse = dir.resolve("sparse");
        try (FileChannel channel = FileChannel.open(sparse, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            channel.write(java.nio.ByteBuffer.wrap(new byte[1 << 20]), 0);
            channel.write(java.nio.ByteBuffer.wrap(new byte[] {1}), 64L << 20); // a 63 MiB hole before it
            channel.force(true);
        }
        int fd = Libc.open(sparse.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        try {
            long allocated = Libc.allocatedBytes(fd);
            assertTrue(allocated >= 1 << 20 && allocated < 8 << 20, allocated + " bytes allocated for 1 MiB + 1 byte of data");
            assertEquals((64L << 20) + 1, Files.size(sparse));
        } finally {
            Libc.close(fd);
        }
    }
}
