package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/jdk.sh, which the launcher sources on every run before the JVM starts: it finds the JDK without starting a
 * program (each one delayed the JVM by tens of milliseconds on a loaded host, docs/benchmarks.md #session14-startup).
 */
class JdkScriptTest {
    @Test
    void aJdkIsKnownByItsReleaseFileWithNoProgramToRun(@TempDir Path dir) throws Exception {
        Path jdk = fakeJdk(dir, "JAVA_VERSION=\"26.0.1\"\n");
        Result result = sourceJdkScript(jdk, Files.createDirectory(dir.resolve("empty-path")));
        assertEquals(new Result(0, jdk.toString()), result, "JAVA_HOME kept; no sed, no java -version on an empty PATH");
    }

    @Test
    void aReleaseFileWithoutATrailingNewlineStillNamesTheVersion(@TempDir Path dir) throws Exception {
        Path jdk = fakeJdk(dir, "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"25.0.3\"");
        Result result = sourceJdkScript(jdk, Files.createDirectory(dir.resolve("empty-path")));
        assertEquals(new Result(0, jdk.toString()), result);
    }

    private record Result(int status, String output) {}

    /** A JDK directory whose java and javac fail if run: only its release file can say what it is. */
    private static Path fakeJdk(Path dir, String release) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("jdk/bin"));
        for (String tool : new String[] {"java", "javac"}) {
            Path program = Files.writeString(bin.resolve(tool), "#!/bin/sh\nexit 1\n");
            Files.setPosixFilePermissions(program, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Files.writeString(dir.resolve("jdk/release"), release);
        return dir.resolve("jdk");
    }

    /** Sources scripts/jdk.sh with JAVA_HOME={@code jdk} and PATH={@code path}; prints the JAVA_HOME it exports. */
    private static Result sourceJdkScript(Path jdk, Path path) throws IOException, InterruptedException {
        Path script = Path.of(System.getProperty("user.dir"), "scripts", "jdk.sh");
        ProcessBuilder builder = new ProcessBuilder("/bin/bash", "-c", "source \"$0\" && printf %s \"$JAVA_HOME\"",
                script.toString()).redirectErrorStream(true);
        builder.environment().put("JAVA_HOME", jdk.toString());
        builder.environment().put("PATH", path.toString());
        Process bash = builder.start();
        String output = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(bash.waitFor(), output);
    }
}
