package io.vmguard.testing;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A guest console captured in memory, for tests that act while the guest runs: waits for a line to
 * appear (a counter reaching a value, a check's verdict) and reads what was printed so far.
 */
public final class ConsoleLines extends OutputStream {
    private final StringBuilder text = new StringBuilder();

    @Override
    public synchronized void write(int b) {
        text.append((char) (b & 0xff));
        notifyAll();
    }

    @Override
    public synchronized void write(byte[] bytes, int offset, int length) {
        text.append(new String(bytes, offset, length, StandardCharsets.ISO_8859_1));
        notifyAll();
    }

    public synchronized String text() {
        return text.toString();
    }

    public synchronized int length() {
        return text.length();
    }

    /**
     * Waits until a whole line (ended by its newline: a line still being printed does not count) from
     * character {@code from} on matches {@code line} and returns the match.
     * Fails with the console's tail when {@code timeout} passes first.
     */
    public synchronized Matcher await(Pattern line, int from, Duration timeout) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Matcher matcher = Pattern.compile("(?m)^" + line.pattern() + "\r?\n").matcher(text);
            if (matcher.find(Math.min(from, text.length()))) {
                return matcher;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                String all = text.toString();
                throw new TimeoutException("no line matching '" + line + "' within " + timeout + "; console ends with:\n"
                        + all.substring(Math.max(0, all.length() - 2000)));
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    /** The last value of a counter line like {@code COUNT 17} printed so far, or -1. */
    public synchronized long lastNumber(Pattern counter) {
        Matcher matcher = Pattern.compile("(?m)^" + counter.pattern() + "\r?\n").matcher(text);
        long last = -1;
        while (matcher.find()) {
            last = Long.parseLong(matcher.group(1));
        }
        return last;
    }
}
