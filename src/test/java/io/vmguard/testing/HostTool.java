package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A program on the host that a test uses as an oracle (iasl, ...), found on the PATH. Where it is absent the
 * test is skipped with the reason, except under {@code -Dvmguard.requireGuest=true}, CI's switch that every
 * prerequisite of the real-world tests be present (see {@link BuiltGuest}): then its absence is a failure,
 * so CI can never pass by skipping an oracle.
 */
public final class HostTool {
    private HostTool() {}

    /** The executable {@code name}; {@code installHint} says how to get it. */
    public static Path require(String name, String installHint) {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                Path candidate = Path.of(dir.isEmpty() ? "." : dir, name);
                if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                    return candidate;
                }
            }
        }
        String reason = name + " not found on PATH: " + installHint;
        if (Boolean.getBoolean("vmguard.requireGuest")) {
            fail(reason);
        }
        assumeTrue(false, reason);
        throw new AssertionError("unreachable");
    }
}
