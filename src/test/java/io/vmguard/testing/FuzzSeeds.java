package io.vmguard.testing;

import java.util.stream.LongStream;

/**
 * Seeds for the fuzz tests at the guest boundaries. CI runs a fixed set, so a run is deterministic; a failing
 * seed is in the test's display name ("seed N") and reproduces alone with {@code -Dvmguard.fuzz.seed=N}.
 *
 * <p>For a longer hunt, {@code -Dvmguard.fuzz.scale=K} runs K times the iterations per seed ({@link #scaled}).
 *
 * <p>Use as {@code @ParameterizedTest(name = FuzzSeeds.NAME) @MethodSource(FuzzSeeds.SOURCE)}.
 */
public final class FuzzSeeds {
    public static final String PROPERTY = "vmguard.fuzz.seed";
    public static final String SCALE_PROPERTY = "vmguard.fuzz.scale";
    public static final String NAME = "seed {0}";
    public static final String SOURCE = "io.vmguard.testing.FuzzSeeds#seeds";

    /** Fixed, and few: each test class should run in a few seconds on a busy 2-core machine. */
    private static final long[] DEFAULTS = {1, 2, 3, 0x5eed, 20261201};

    private FuzzSeeds() {}

    public static LongStream seeds() {
        String chosen = System.getProperty(PROPERTY);
        if (chosen != null && !chosen.isBlank()) {
            return LongStream.of(Long.decode(chosen.trim()));
        }
        return LongStream.of(DEFAULTS);
    }

    /** A test's iterations per seed, times the scale asked for on the command line (1 in CI). */
    public static int scaled(int iterations) {
        return iterations * Integer.getInteger(SCALE_PROPERTY, 1);
    }

    /** The line to put in a failure message, so the seed is there even when the display name is not shown. */
    public static String reproduce(long seed) {
        return "(reproduce with -D" + PROPERTY + "=" + seed + ")";
    }
}
