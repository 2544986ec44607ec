package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SerialLogWatchTest {
    @TempDir
    Path dir;

    @Test
    void eachTextCountsOnlyOnceThePreviousOneHasAppearedEvenSplitAcrossWrites() throws Exception {
        Path log = dir.resolve("serial.log");
        Files.writeString(log, "[0.1] Freeing SMP alternatives memory\n");
        List<String> seen = new CopyOnWriteArrayList<>();
        CountDownLatch both = new CountDownLatch(2);
        SerialLogWatch.start(log, List.of(
                new SerialLogWatch.Sighting("Unpacking initramfs", () -> { seen.add("from"); both.countDown(); }),
                new SerialLogWatch.Sighting("Freeing", () -> { seen.add("until"); both.countDown(); })));
        Thread.sleep(100); // several polls: "Freeing" is there already, but before the start
        assertEquals(List.of(), seen);

        Files.writeString(log, "[0.2] Unpacking init", StandardOpenOption.APPEND);
        Thread.sleep(100);
        assertEquals(List.of(), seen, "half the text is not the text");
        Files.writeString(log, "ramfs...\n[0.3] Freeing initrd memory: 3668K\n", StandardOpenOption.APPEND);
        assertTrue(both.await(10, TimeUnit.SECONDS), seen.toString());
        assertEquals(List.of("from", "until"), seen);
    }
}
