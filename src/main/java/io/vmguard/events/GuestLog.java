package io.vmguard.events;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The one logger for everything a guest can cause (a driver breaking the virtio contract, an instruction
 * the interpreter lacks, a device error a guest request provoked). A guest can trigger such paths as fast
 * as it likes, so, as Firecracker requires of its guest-triggerable paths, every line is rate-limited:
 *
 * <ul>
 * <li>per key (the kind of message, not its text): a burst of {@link #BURST} lines, then one more every
 *     {@link #REFILL_NANOS}; lines over that are counted, and the next line printed for the key says how
 *     many were suppressed;</li>
 * <li>overall: at most {@link #GLOBAL_BURST} lines per {@link #GLOBAL_WINDOW_NANOS}, so many distinct keys
 *     cannot flood the log either;</li>
 * <li>the key table is bounded ({@link #MAX_KEYS}); keys beyond it share one bucket, {@link #OVERFLOW_KEY}.</li>
 * </ul>
 *
 * The first occurrence of each key also becomes a security event (source "vmm", kind "guest-log"), so an
 * operator watching the event stream learns that a guest is doing something odd without reading stderr.
 *
 * <p>vmguard runs one VM per process (as Firecracker does), so the log is process-wide: {@link #install}
 * sets it when the VM starts, and device and engine code reach it through {@link #warn(String, String)}
 * without a logger threaded through every constructor.
 */
public final class GuestLog {
    static final int BURST = 10;
    static final long REFILL_NANOS = 6_000_000_000L;
    static final int GLOBAL_BURST = 100;
    static final long GLOBAL_WINDOW_NANOS = 60_000_000_000L;
    static final int MAX_KEYS = 256;
    static final String OVERFLOW_KEY = "(other)";

    private static volatile GuestLog current = new GuestLog(System.err::println, VmEvents.none(), System::nanoTime);

    private final Consumer<String> out;
    private final VmEvents events;
    private final LongSupplier nanos;
    private final Map<String, Bucket> buckets = new LinkedHashMap<>();
    private long globalWindowStart;
    private int globalLines;
    private long printed;
    private long suppressed;

    /** Per key: tokens left, when the last token was added, lines dropped since the last one printed. */
    private static final class Bucket {
        double tokens = BURST;
        long refilledAt;
        long dropped;
    }

    public GuestLog(Consumer<String> out, VmEvents events, LongSupplier nanos) {
        this.out = out;
        this.events = events;
        this.nanos = nanos;
        this.globalWindowStart = nanos.getAsLong();
    }

    /** Makes {@code log} the process's guest log (at VM start). */
    public static void install(GuestLog log) {
        current = log;
    }

    public static GuestLog current() {
        return current;
    }

    /** Logs through the process's guest log: {@code key} names the kind of message, {@code message} is the line. */
    public static void warn(String key, String message) {
        current.log(key, message);
    }

    /** Logs one line for {@code key} unless its rate is exceeded; then it is counted instead. */
    public void log(String key, String message) {
        String line;
        synchronized (this) {
            long now = nanos.getAsLong();
            Bucket bucket = buckets.get(key);
            boolean first = bucket == null;
            if (first) {
                if (buckets.size() >= MAX_KEYS) {
                    key = OVERFLOW_KEY;
                    bucket = buckets.get(key);
                    first = bucket == null;
                }
                if (first) {
                    bucket = new Bucket();
                    bucket.refilledAt = now;
                    buckets.put(key, bucket);
                    events.emit(Source.VMM, "guest-log", Severity.WARNING, Map.of("key", key, "message", message));
                }
            }
            bucket.tokens = Math.min(BURST, bucket.tokens + (now - bucket.refilledAt) / (double) REFILL_NANOS);
            bucket.refilledAt = now;
            if (now - globalWindowStart >= GLOBAL_WINDOW_NANOS) {
                globalWindowStart = now;
                globalLines = 0;
            }
            if (bucket.tokens < 1 || globalLines >= GLOBAL_BURST) {
                bucket.dropped++;
                suppressed++;
                return;
            }
            bucket.tokens -= 1;
            globalLines++;
            printed++;
            line = "vmguard: " + message + (bucket.dropped > 0 ? " (" + bucket.dropped + " similar lines suppressed)" : "");
            bucket.dropped = 0;
        }
        out.accept(line);
    }

    /** Lines printed so far. */
    public synchronized long printed() {
        return printed;
    }

    /** Lines counted instead of printed so far. */
    public synchronized long suppressed() {
        return suppressed;
    }

    /** Distinct keys seen (at most {@link #MAX_KEYS}). */
    public synchronized int keys() {
        return buckets.size();
    }
}
