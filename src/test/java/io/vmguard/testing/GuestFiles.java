package io.vmguard.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Files of the built guest image, taken out of its archives on the host (gzip and cpio, as the guest's kernel
 * unpacks them), so that a test can look at exactly what the guest runs.
 */
public final class GuestFiles {
    private GuestFiles() {}

    /** {@code path} (e.g. "vmguard/bin/av-marked") from the userland archive, written to {@code target}. */
    public static Path program(String path, Path target) throws IOException, InterruptedException {
        return extract(BuiltGuest.initramfs(), path, target);
    }

    /** {@code path} (e.g. "vmguard/modules/vgattack.ko") from the kernel's module archive. */
    public static Path module(String path, Path target) throws IOException, InterruptedException {
        return extract(BuiltGuest.directory().resolve("modules.cpio.gz"), path, target);
    }

    private static Path extract(Path archive, String path, Path target) throws IOException, InterruptedException {
        // The first cpio archive in the stream holds it; cpio stops at that archive's trailer.
        Process process = new ProcessBuilder("sh", "-c", "gzip -dc \"$0\" | cpio -i --quiet --to-stdout \"$1\"",
                archive.toString(), path).redirectOutput(target.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        if (process.waitFor() != 0 || Files.size(target) == 0) {
            throw new IOException("no " + path + " in " + archive);
        }
        return target;
    }
}
