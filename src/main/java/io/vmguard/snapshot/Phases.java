package io.vmguard.snapshot;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a snapshot's save or restore spends its time, phase by phase (the owner's swtpm starting, its storage
 * key, the unseal, encryption, writes, fsyncs...), for {@code scripts/bench-seal --phases} and the
 * snapshot events' {@code phases} field. The code that does the work reports to the recorder the caller bound
 * to its thread ({@link #record}); unbound, reporting costs a check and nothing else, so the save and restore
 * paths carry their timing without a parameter threaded through every layer. Phases that run on several
 * threads or several times add up: a figure is time spent in that phase, not wall-clock time.
 */
public final class Phases {
    private static final ThreadLocal<Phases> CURRENT = new ThreadLocal<>();

    private final Map<String, Long> nanos = new LinkedHashMap<>();

    /** Binds this recorder to the calling thread until the returned binding is closed (then the previous one is back). */
    public Binding record() {
        Phases previous = CURRENT.get();
        CURRENT.set(this);
        return () -> CURRENT.set(previous);
    }

    /** A recorder's binding to a thread; closing it ends the binding. */
    public interface Binding extends AutoCloseable {
        @Override
        void close();
    }

    /** The recorder bound to this thread, or null (handed to threads the work starts itself). */
    public static Phases current() {
        return CURRENT.get();
    }

    /** Adds the time since {@code startedNanos} ({@link System#nanoTime}) to {@code phase} of the bound recorder, if any. */
    public static void since(String phase, long startedNanos) {
        Phases phases = current();
        if (phases != null) {
            phases.add(phase, System.nanoTime() - startedNanos);
        }
    }

    /** Adds {@code elapsedNanos} to {@code phase} of {@code phases}, when there is a recorder (captured for another thread). */
    public static void add(Phases phases, String phase, long elapsedNanos) {
        if (phases != null) {
            phases.add(phase, elapsedNanos);
        }
    }

    /** Adds {@code elapsedNanos} to {@code phase}. */
    public synchronized void add(String phase, long elapsedNanos) {
        nanos.merge(phase, elapsedNanos, Long::sum);
    }

    /** Each phase in the order first reported, in seconds. */
    public synchronized Map<String, Double> seconds() {
        Map<String, Double> out = new LinkedHashMap<>();
        nanos.forEach((phase, value) -> out.put(phase, value / 1e9));
        return out;
    }
}
