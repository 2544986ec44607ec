package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The guest image built by {@code guest/build.sh}, for tests that read or boot it. Found through
 * {@code $VMGUARD_GUEST_DIR} (set by scripts/test). Where it is absent the test is skipped with the reason,
 * except when {@code -Dvmguard.requireGuest=true} (scripts/test, CI): then its absence is a failure, so CI
 * can never pass by skipping the real-guest tests.
 */
public final class BuiltGuest {
    private BuiltGuest() {}

    public static Path directory() {
        String dir = System.getenv("VMGUARD_GUEST_DIR");
        boolean built = dir != null && !dir.isBlank() && Files.isRegularFile(Path.of(dir, ".complete"));
        if (!built) {
            String reason = "guest image not built: run guest/build.sh and set VMGUARD_GUEST_DIR (scripts/test does both)";
            if (Boolean.getBoolean("vmguard.requireGuest")) {
                fail(reason);
            }
            assumeTrue(false, reason);
        }
        return Path.of(dir);
    }

    public static Path vmlinux() {
        return directory().resolve("vmlinux");
    }

    public static Path bzImage() {
        return directory().resolve("bzImage");
    }

    public static Path systemMap() {
        return directory().resolve("System.map");
    }

    public static Path initramfs() {
        return directory().resolve("initramfs.cpio.gz");
    }
}
