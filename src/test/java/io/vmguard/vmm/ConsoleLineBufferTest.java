package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ConsoleLineBufferTest {
    /** Counts the host writes, so a test sees bytes arrive together rather than one call each. */
    private static final class Host extends ByteArrayOutputStream {
        final AtomicInteger writes = new AtomicInteger();
        volatile boolean closed;

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            writes.incrementAndGet();
            super.write(b, off, len);
        }

        @Override
        public synchronized void write(int b) {
            writes.incrementAndGet();
            super.write(b);
        }

        @Override
        public void close() {
            closed = true;
        }

        synchronized String text() {
            return toString(StandardCharsets.US_ASCII);
        }
    }

    private final Host host = new Host();
    private final ConsoleLineBuffer console = new ConsoleLineBuffer(host);

    private static void type(OutputStream out, String text) throws IOException {
        for (byte b : text.getBytes(StandardCharsets.US_ASCII)) {
            out.write(b);
        }
    }

    /** Waits for the host to show {@code expected}, allowing far more than the delay on a loaded host. */
    private void awaitText(String expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!host.text().equals(expected) && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(expected, host.text());
    }

    @Test
    void aLineReachesTheHostInOneWriteWhenItEnds() throws IOException {
        type(console, "[    0.000000] Linux version 6.12\n");
        assertEquals("[    0.000000] Linux version 6.12\n", host.text());
        assertEquals(1, host.writes.get());
    }

    @Test
    void anUnfinishedLineReachesTheHostAfterTheDelay() throws Exception {
        type(console, "/ # ");
        awaitText("/ # ");
        type(console, "ls");
        awaitText("/ # ls");
    }

    @Test
    void flushDeliversAnUnfinishedLineAtOnce() throws IOException {
        type(console, "login: ");
        console.flush();
        assertEquals("login: ", host.text());
    }

    @Test
    void aFullBufferIsDeliveredWithoutWaitingForTheLineToEnd() throws IOException {
        type(console, "x".repeat(4096));
        assertEquals(4096, host.text().length());
    }

    @Test
    void aFailedDelayedDeliveryIsReportedByTheNextWrite() throws Exception {
        AtomicInteger attempts = new AtomicInteger();
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                attempts.incrementAndGet();
                throw new IOException("pipe closed");
            }
        };
        ConsoleLineBuffer failing = new ConsoleLineBuffer(broken);
        failing.write('#');
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (attempts.get() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertTrue(attempts.get() > 0, "the unfinished line was never delivered");
        IOException reported = assertThrows(IOException.class, () -> failing.write('x'));
        assertEquals("pipe closed", reported.getMessage());
    }

    @Test
    void closeDeliversWhatIsPendingAndClosesTheHost() throws IOException {
        type(console, "reboot: Power down");
        console.close();
        assertEquals("reboot: Power down", host.text());
        assertTrue(host.closed);
    }
}
