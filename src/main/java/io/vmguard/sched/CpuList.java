package io.vmguard.sched;

import java.util.BitSet;

/**
 * A set of host CPUs in the kernel's list syntax ({@code 0-1,3}, as in /proc/PID/status's
 * Cpus_allowed_list and taskset -c), bounded to the CPUs a cpu_set_t can name.
 */
public record CpuList(BitSet cpus) {
    /** CPUs a cpu_set_t can name (glibc's CPU_SETSIZE). */
    public static final int MAX_CPUS = 1024;
    private static final int MAX_TEXT = 256;

    public CpuList {
        cpus = (BitSet) cpus.clone();
        if (cpus.isEmpty()) {
            throw new IllegalArgumentException("an empty CPU list");
        }
    }

    @Override
    public BitSet cpus() {
        return (BitSet) cpus.clone();
    }

    /** Parses {@code 0}, {@code 0-3}, {@code 0,2-3}; throws IllegalArgumentException with a one-line reason. */
    public static CpuList parse(String text) {
        if (text.isEmpty() || text.length() > MAX_TEXT) {
            throw new IllegalArgumentException("CPU list '" + clip(text) + "' must have 1 to " + MAX_TEXT + " characters");
        }
        BitSet cpus = new BitSet();
        for (String part : text.split(",", -1)) {
            int dash = part.indexOf('-');
            int first = cpu(dash < 0 ? part : part.substring(0, dash), text);
            int last = dash < 0 ? first : cpu(part.substring(dash + 1), text);
            if (last < first) {
                throw new IllegalArgumentException("CPU range '" + part + "' in '" + text + "' runs backwards");
            }
            cpus.set(first, last + 1);
        }
        return new CpuList(cpus);
    }

    private static int cpu(String number, String whole) {
        if (number.isEmpty() || number.length() > 4 || !number.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("'" + whole + "' is not a CPU list like 0-1,3");
        }
        int cpu = Integer.parseInt(number);
        if (cpu >= MAX_CPUS) {
            throw new IllegalArgumentException("CPU " + cpu + " in '" + whole + "' is past the last one a thread can name ("
                    + (MAX_CPUS - 1) + ")");
        }
        return cpu;
    }

    private static String clip(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }

    /** Back in list syntax, ranges merged: {@code 0-1,3}. */
    @Override
    public String toString() {
        StringBuilder out = new StringBuilder();
        for (int first = cpus.nextSetBit(0); first >= 0; first = cpus.nextSetBit(cpus.nextClearBit(first))) {
            int last = cpus.nextClearBit(first) - 1;
            out.append(out.isEmpty() ? "" : ",").append(first);
            if (last > first) {
                out.append('-').append(last);
            }
        }
        return out.toString();
    }
}
