package io.vmguard.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The guest image built by the recipe in {@code guest/}: kernel, System.map and initramfs in a cache
 * directory named by the recipe's hash. Locating it runs the recipe, which returns at once when cached
 * and otherwise builds (showing its progress on stderr).
 */
public record GuestImage(Path directory) {
    public Path vmlinux() {
        return directory.resolve("vmlinux");
    }

    public Path bzImage() {
        return directory.resolve("bzImage");
    }

    public Path systemMap() {
        return directory.resolve("System.map");
    }

    public Path initramfs() {
        return directory.resolve("initramfs.cpio.gz");
    }

    /** The vmguard checkout: {@code -Dvmguard.home}, else {@code $VMGUARD_HOME} (both set by the launcher). */
    public static Path home() throws CliException {
        String home = System.getProperty("vmguard.home", System.getenv("VMGUARD_HOME"));
        if (home == null || home.isBlank()) {
            throw new CliException("cannot find the guest recipe: run vmguard through its launcher (./vmguard) or set VMGUARD_HOME");
        }
        return Path.of(home);
    }

    /** Builds the image if needed and returns it. */
    public static GuestImage locateOrBuild() throws CliException {
        Path recipe = home().resolve("guest/build.sh");
        if (!Files.isExecutable(recipe)) {
            throw new CliException("guest recipe " + recipe + " is missing or not executable");
        }
        try {
            Process build = new ProcessBuilder(List.of(recipe.toString()))
                    .redirectInput(ProcessBuilder.Redirect.INHERIT)
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            String output = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            int status = build.waitFor();
            if (status != 0) {
                throw new CliException("building the guest image failed (guest/build.sh exited " + status + ")");
            }
            List<String> lines = output.lines().toList();
            GuestImage image = new GuestImage(Path.of(lines.isEmpty() ? "" : lines.getLast()));
            if (!Files.isRegularFile(image.bzImage()) || !Files.isRegularFile(image.initramfs())) {
                throw new CliException("guest/build.sh reported '" + image.directory() + "', which holds no built image");
            }
            return image;
        } catch (IOException e) {
            throw new CliException("cannot run guest/build.sh: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted while building the guest image");
        }
    }
}
