package io.vmguard.seal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.LazyFill;
import io.vmguard.memory.MemoryBackend;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lazy (post-copy) restore of sealed memory: a helper process fills guest RAM through userfaultfd while this
 * JVM's threads read it, so reads before, during and after the background pass see exactly the saved bytes;
 * a chunk modified on disk stops the fill with its number and never shows its bytes; closing mid-fill ends
 * the helper. The key's TPM sealing is not under test here (another test's): the header carries a dummy.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class PostCopyRestoreTest {
    private static final List<GuestMemory.Range> LAYOUT = X86Layout.ramRanges(64L << 20);
    private static final SealedKey DUMMY = new SealedKey(new byte[8], new byte[8]);

    @TempDir
    Path dir;
    private final UUID id = UUID.randomUUID();
    private final byte[] key = new byte[SealingTpm.KEY_BYTES];

    @BeforeEach
    void needsUserfaultfd() {
        new SecureRandom().nextBytes(key);
        assumeTrue(PostCopyHelper.unavailableFor(MemoryBackend.ANONYMOUS) == null, "no java launcher for the helper");
    }

    /** Half the chunks random, the rest holes (every other 64 KiB), plus a marker in the last page. */
    private GuestMemory original() throws Exception {
        GuestMemory memory = GuestMemory.allocate(LAYOUT);
        java.util.Random random = new java.util.Random(42); // the same bytes each call
        byte[] chunk = new byte[SealedMemoryImage.CHUNK];
        for (GuestMemory.Range range : LAYOUT) {
            for (long at = range.start(); at + chunk.length <= range.end(); at += 2L * chunk.length) {
                random.nextBytes(chunk);
                memory.write(at, chunk);
            }
        }
        GuestMemory.Range last = LAYOUT.getLast();
        memory.write(last.end() - 16, "the last page...".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return memory;
    }

    private Path sealed() throws Exception {
        Path file = dir.resolve("vm.mem");
        try (GuestMemory memory = original()) {
            SealedMemoryImage.write(memory, file, id, key, DUMMY);
        }
        return file;
    }

    private static void assertSame(GuestMemory expected, GuestMemory actual) {
        for (GuestMemory.Range range : LAYOUT) {
            assertEquals(-1, expected.slice(range.start(), range.size()).mismatch(actual.slice(range.start(), range.size())),
                    "range 0x" + Long.toHexString(range.start()));
        }
    }

    @Test
    void readsRightAfterTheRestoreSeeTheSavedBytesAndTheFillCompletes() throws Exception {
        Path file = sealed();
        try (GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.LAZY);
             GuestMemory original = original()) {
            PostCopyRestore fill = (PostCopyRestore) restored.filling().orElseThrow(() -> new AssertionError("restored up front"));
            assertFalse(restored.anonymous(), "a missing page is not a zero page while the fill runs");
            // Touched at once, from the end backwards: most of these fault ahead of the background pass.
            GuestMemory.Range last = LAYOUT.getLast();
            for (long at = last.end() - 4096; at >= last.start() && at > last.end() - (8L << 20); at -= 4096) {
                assertArrayEquals(original.readBytes(at, 64), restored.readBytes(at, 64), "page 0x" + Long.toHexString(at));
            }
            assertSame(original, restored);
            assertTrue(fill.awaitComplete(Duration.ofSeconds(60)), "the fill did not complete: " + fill.failure());
            assertNull(fill.failure());
            assertTrue(restored.anonymous(), "complete: untouched pages are zero pages again");
            assertTrue(restored.filling().isEmpty());
            assertTrue(fill.counts().contains("faulted="), fill.counts());
            assertSame(original, restored);
        }
    }

    /**
     * A server keeps a helper started before any restore: the restore takes it (it opens the file by name and
     * checks it is the one authenticated here), fills exactly the saved bytes, and the next one starts behind it.
     */
    @Test
    void aHelperOnStandbyServesTheNextRestoreAndAnotherTakesItsPlace() throws Exception {
        Path file = sealed();
        PostCopyHelper.keepStandby();
        try {
            int standby = awaitStandby(-1);
            try (GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.LAZY);
                 GuestMemory original = original()) {
                PostCopyRestore fill = (PostCopyRestore) restored.filling().orElseThrow(() -> new AssertionError("restored up front"));
                assertEquals(standby, fill.helperPid(), "the restore spawned a helper of its own");
                assertSame(original, restored);
                assertTrue(fill.awaitComplete(Duration.ofSeconds(60)), "the fill did not complete: " + fill.failure());
                assertNull(fill.failure());
            }
            awaitStandby(standby);
        } finally {
            PostCopyHelper.stopStandby();
        }
    }

    /** Waits for a helper on standby other than {@code not}; returns its pid. */
    private static int awaitStandby(int not) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            int pid = PostCopyHelper.standbyPid();
            if (pid != -1 && pid != not) {
                return pid;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no helper came on standby");
    }

    /**
     * Threads of this JVM blocked in faults while another forces safepoints (GCs) over and over: the helper
     * answers from its own process, so nothing waits on this JVM's safepoint (a handler thread here would).
     */
    @Test
    void faultsWhileThisJvmRunsSafepointsAreAnswered() throws Exception {
        Path file = sealed();
        try (GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.LAZY);
             GuestMemory original = original()) {
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            Thread collector = Thread.ofPlatform().daemon().start(() -> {
                while (!done.get()) {
                    System.gc();
                }
            });
            List<Thread> readers = new java.util.ArrayList<>();
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            for (int i = 0; i < 3; i++) {
                long offset = i * 4096L * 5;
                readers.add(Thread.ofPlatform().start(() -> {
                    try {
                        for (GuestMemory.Range range : LAYOUT) {
                            for (long at = range.start() + offset % range.size(); at < range.end(); at += 4096 * 7) {
                                if (restored.readByte(at) != original.readByte(at)) {
                                    throw new AssertionError("page 0x" + Long.toHexString(at));
                                }
                            }
                        }
                    } catch (Throwable t) {
                        failed.set(t);
                    }
                }));
            }
            for (Thread reader : readers) {
                reader.join(TimeUnit.SECONDS.toMillis(60));
                assertFalse(reader.isAlive(), "a reader hung on a fault");
            }
            done.set(true);
            collector.join();
            assertNull(failed.get(), String.valueOf(failed.get()));
            assertTrue(restored.filling().map(f -> {
                try {
                    return f.awaitComplete(Duration.ofSeconds(60));
                } catch (InterruptedException e) {
                    return false;
                }
            }).orElse(true));
        }
    }

    @Test
    void aModifiedChunkStopsTheFillWithItsNumberAndItsBytesNeverAppear() throws Exception {
        Path file = sealed();
        long chunk = 2; // guest 0x20000: random bytes (even chunks are written)
        try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
            raw.seek(4096 + chunk * SealedMemoryImage.SLOT + 100); // data starts at 4096 for this layout
            int b = raw.read();
            raw.seek(4096 + chunk * SealedMemoryImage.SLOT + 100);
            raw.write(b ^ 1);
        }
        try (GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.LAZY)) {
            LazyFill fill = restored.filling().orElseThrow();
            CompletableFuture<String> reported = new CompletableFuture<>();
            fill.onFailure(reported::complete);
            String reason = reported.get(60, TimeUnit.SECONDS);
            assertTrue(reason.contains("was modified: chunk 2 fails its authentication"), reason);
            assertFalse(reason.contains("\n"));
            assertFalse(fill.awaitComplete(Duration.ofSeconds(5)));
            assertEquals(reason, fill.failure());
            MemorySegment page = restored.slice(chunk * SealedMemoryImage.CHUNK, SealedMemoryImage.CHUNK);
            assertEquals(-1, page.mismatch(MemorySegment.ofArray(new byte[SealedMemoryImage.CHUNK])),
                    "the failed chunk holds bytes: it must only ever read as zero");
        }
    }

    @Test
    void closingMidFillEndsTheHelperAndReleasesWaitingReads() throws Exception {
        Path file = sealed();
        GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.LAZY);
        LazyFill fill = restored.filling().orElseThrow();
        restored.readByte(0x10000);
        long start = System.nanoTime();
        restored.close();
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "close waited for the fill");
        assertNull(fill.failure(), "closing is not a failure");
        long helpers = ProcessHandle.current().children()
                .filter(p -> p.info().commandLine().orElse("").contains(PostCopyServer.class.getName())).count();
        assertEquals(0, helpers, "a decrypting helper outlived its memory");
    }

    @Test
    void secretMemoryCannotBeFilledLazily() {
        assertTrue(PostCopyHelper.unavailableFor(MemoryBackend.SECRET) != null);
    }
}
