package io.vmguard.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs one of the project's scripts ({@code scripts/NAME}) as a user would, on the built guest image, with the
 * vmguard CLI from this build's class path (the {@code vmguard} launcher would run Maven under the running
 * build). Returns its exit status and everything it printed.
 */
public final class ProjectScript {
    public record Result(int status, String output) {}

    private ProjectScript() {}

    public static Result run(String name, String... args) throws IOException, InterruptedException {
        String home = System.getenv().getOrDefault("VMGUARD_HOME", System.getProperty("user.dir"));
        List<String> command = new ArrayList<>(List.of("bash", Path.of(home, "scripts", name).toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("VMGUARD_GUEST_DIR", BuiltGuest.directory().toString());
        builder.environment().put("VMGUARD_CMD", String.join(" ", ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), "io.vmguard.cli.Main"));
        Process script = builder.start();
        String output = new String(script.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(script.waitFor(), output);
    }
}
