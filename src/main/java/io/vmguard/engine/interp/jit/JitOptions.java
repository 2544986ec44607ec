package io.vmguard.engine.interp.jit;

/**
 * The JIT's knobs. {@code threshold}: executions of a block before it is queued for compilation (0 compiles a block
 * the first time it runs: the tests' setting). {@code budget}: compiled blocks kept at once; when it is reached every
 * translation is dropped (their hidden classes unload) and blocks get hot again.
 */
public record JitOptions(boolean enabled, int threshold, int budget, boolean regions) {
    /** System properties that override the defaults: {@code vmguard.jit} (on/off), threshold, budget, regions (on/off). */
    public static final String ENABLED = "vmguard.jit", THRESHOLD = "vmguard.jit.threshold", BUDGET = "vmguard.jit.budget",
            REGIONS = "vmguard.jit.regions";
    /**
     * 50,000 since session 11 (docs/benchmarks.md), paired with the launcher's flag that sends generated classes to C1
     * only: together they cost less CPU than 200,000 with C2 (Debian's kernel and bench-cpu, A/B pairs). Without that
     * flag (tests, a bare {@code java -jar}) 50,000 measured within the noise of 200,000.
     */
    public static final int DEFAULT_THRESHOLD = 50_000;
    public static final int DEFAULT_BUDGET = 20_000;
    public static final boolean DEFAULT_ENABLED = true;

    public JitOptions {
        if (threshold < 0 || threshold > 1_000_000_000) {
            throw new IllegalArgumentException("JIT threshold " + threshold + " is outside 0..1000000000");
        }
        if (budget < 1 || budget > 1_000_000) {
            throw new IllegalArgumentException("JIT budget " + budget + " is outside 1..1000000");
        }
    }

    /** Regions as the system property says (default on). */
    public JitOptions(boolean enabled, int threshold, int budget) {
        this(enabled, threshold, budget, parseSwitch(System.getProperty(REGIONS), true));
    }

    /** The same, each block compiled alone (chained to its successors, never joined with them in one method). */
    public JitOptions withoutRegions() {
        return new JitOptions(enabled, threshold, budget, false);
    }

    public static JitOptions off() {
        return new JitOptions(false, DEFAULT_THRESHOLD, DEFAULT_BUDGET);
    }

    /** On, compiling every block at its first execution on the vCPU's own thread (differential tests). */
    public static JitOptions compileAtOnce() {
        return new JitOptions(true, 0, DEFAULT_BUDGET);
    }

    /** The defaults, as the system properties change them (a malformed value is an error, never ignored). */
    public static JitOptions fromSystemProperties() {
        return withEnabled(parseSwitch(System.getProperty(ENABLED), DEFAULT_ENABLED));
    }

    /** On or off as given, threshold and budget from the system properties or their defaults. */
    public static JitOptions withEnabled(boolean enabled) {
        return new JitOptions(enabled, intProperty(THRESHOLD, DEFAULT_THRESHOLD), intProperty(BUDGET, DEFAULT_BUDGET));
    }

    /** "on" or "off" (as {@code --jit} takes it). */
    public static boolean parseSwitch(String value, boolean absent) {
        if (value == null) {
            return absent;
        }
        return switch (value) {
            case "on", "true" -> true;
            case "off", "false" -> false;
            default -> throw new IllegalArgumentException("JIT switch '" + value + "' is neither on nor off");
        };
    }

    private static int intProperty(String name, int absent) {
        String value = System.getProperty(name);
        if (value == null) {
            return absent;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property " + name + "='" + value + "' is not a number");
        }
    }
}
