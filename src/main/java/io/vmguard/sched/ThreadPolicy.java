package io.vmguard.sched;

import java.util.Optional;

/**
 * What to ask of the host for one class of threads: a nice value (-20..19), a scheduling class, a set of
 * CPUs. An empty field leaves the thread as the host made it.
 */
public record ThreadPolicy(Optional<Integer> nice, Optional<SchedClass> schedClass, Optional<CpuList> affinity) {
    public static final int NICE_MIN = -20;
    public static final int NICE_MAX = 19;
    public static final ThreadPolicy UNCHANGED = new ThreadPolicy(Optional.empty(), Optional.empty(), Optional.empty());

    public ThreadPolicy {
        nice.ifPresent(value -> {
            if (value < NICE_MIN || value > NICE_MAX) {
                throw new IllegalArgumentException("nice " + value + " is outside " + NICE_MIN + ".." + NICE_MAX);
            }
        });
    }

    public boolean isUnchanged() {
        return nice.isEmpty() && schedClass.isEmpty() && affinity.isEmpty();
    }

    public ThreadPolicy withNice(int value) {
        return new ThreadPolicy(Optional.of(value), schedClass, affinity);
    }

    public ThreadPolicy withSchedClass(SchedClass value) {
        return new ThreadPolicy(nice, Optional.of(value), affinity);
    }

    public ThreadPolicy withAffinity(CpuList value) {
        return new ThreadPolicy(nice, schedClass, Optional.of(value));
    }

    /** For people: {@code nice 5, batch, CPUs 0-1}, or {@code unchanged}. */
    @Override
    public String toString() {
        if (isUnchanged()) {
            return "unchanged";
        }
        StringBuilder out = new StringBuilder();
        nice.ifPresent(value -> out.append("nice ").append(value));
        schedClass.ifPresent(value -> out.append(out.isEmpty() ? "" : ", ").append(value.word()));
        affinity.ifPresent(value -> out.append(out.isEmpty() ? "" : ", ").append("CPUs ").append(value));
        return out.toString();
    }
}
