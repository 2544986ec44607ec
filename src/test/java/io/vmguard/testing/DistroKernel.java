package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Debian's own 6.12 kernel, fetched by {@code guest/distro-kernel.sh}: a kernel vmguard did not build, with a
 * distribution config (KASLR, PTI, virtio as modules). Found through {@code -Dvmguard.distroKernelDir} or
 * {@code $VMGUARD_DISTRO_KERNEL_DIR} (set by scripts/test). Where it is absent the test is skipped with the
 * reason, except when {@code -Dvmguard.requireGuest=true} (scripts/test, CI): then its absence is a failure,
 * as for {@link BuiltGuest}.
 */
public final class DistroKernel {
    private DistroKernel() {}

    public static Path directory() {
        String dir = System.getProperty("vmguard.distroKernelDir", "");
        if (dir.isBlank()) { // the pom passes an empty property when none was given
            dir = System.getenv("VMGUARD_DISTRO_KERNEL_DIR");
        }
        boolean fetched = dir != null && !dir.isBlank() && Files.isRegularFile(Path.of(dir, ".complete"));
        if (!fetched) {
            String reason = "Debian kernel not fetched: run guest/distro-kernel.sh and set VMGUARD_DISTRO_KERNEL_DIR"
                    + " (scripts/test does both)";
            if (Boolean.getBoolean("vmguard.requireGuest")) {
                fail(reason);
            }
            assumeTrue(false, reason);
        }
        return Path.of(dir);
    }

    /** The compressed kernel, a bzImage: booting it goes through the decompressor, so KASLR applies. */
    public static Path vmlinuz() {
        return directory().resolve("vmlinuz");
    }

    /** The real symbol map (from the -dbg package), at the link-time addresses. */
    public static Path systemMap() {
        return directory().resolve("System.map");
    }

    public static Path config() {
        return directory().resolve("config");
    }
}
