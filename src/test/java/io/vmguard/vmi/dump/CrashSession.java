package io.vmguard.vmi.dump;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's {@code crash} run once over a dump, in batch: the commands go to its standard input, its whole
 * output comes back. Bounded in time, because a crash that does not understand a dump may loop.
 */
record CrashSession(String output, int exitStatus) {
    static CrashSession run(Path crash, Path vmlinux, Path dump, List<String> options, List<String> commands,
                            Duration timeout, Path workDir) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(crash.toString(), "-s"));
        command.addAll(options);
        command.addAll(List.of(vmlinux.toString(), dump.toString()));
        Path log = workDir.resolve("crash-" + System.nanoTime() + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("HOME", workDir.toString()); // no ~/.crashrc of whoever runs the tests
        Process process = builder.start();
        try (OutputStream in = process.getOutputStream()) {
            StringBuilder script = new StringBuilder("set scroll off\n");
            commands.forEach(c -> script.append(c).append('\n'));
            script.append("quit\n");
            in.write(script.toString().getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            // crash gave up before reading its input; its output says why.
        }
        if (!process.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("crash did not finish within " + timeout + "; its output:\n" + Files.readString(log));
        }
        return new CrashSession(Files.readString(log, StandardCharsets.ISO_8859_1), process.exitValue());
    }
}
