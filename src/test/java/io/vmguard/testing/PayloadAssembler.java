package io.vmguard.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Builds a payload from {@code src/test/payloads/NAME.S} with GNU binutils: {@code as --64}, {@code ld
 * -Ttext=ORIGIN}, {@code objcopy -O binary} of .text (payloads keep code and data in .text), and
 * {@code nm} for the global symbols. Outputs go to {@code target/payloads/}.
 */
public final class PayloadAssembler {
    private static final long TOOL_TIMEOUT_SECONDS = 30;

    private PayloadAssembler() {}

    public static Payload assemble(String name, long origin) {
        Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
        Path sources = base.resolve("src/test/payloads");
        Path source = sources.resolve(name + ".S");
        if (!Files.isRegularFile(source)) {
            throw new IllegalArgumentException("no payload source " + source);
        }
        Path out = base.resolve("target/payloads");
        Path object = out.resolve(name + ".o");
        Path elf = out.resolve(name + ".elf");
        Path binary = out.resolve(name + ".bin");
        try {
            Files.createDirectories(out);
            run("as", "--64", "-I", sources.toString(), "-o", object.toString(), source.toString());
            run("ld", "-m", "elf_x86_64", "-nostdlib", "-static", "-N", "--build-id=none",
                    "-Ttext=0x" + Long.toHexString(origin), "-e", "_start", "-o", elf.toString(), object.toString());
            run("objcopy", "-O", "binary", "--only-section=.text", elf.toString(), binary.toString());
            Map<String, Long> symbols = symbols(run("nm", "--defined-only", elf.toString()));
            return new Payload(name, origin, Files.readAllBytes(binary), Map.copyOf(symbols));
        } catch (IOException e) {
            throw new IllegalStateException("cannot build payload " + name + ": " + e.getMessage(), e);
        }
    }

    /** The global symbols of a linked payload, by name. */
    public static Map<String, Long> symbolsOf(Path elf) throws IOException {
        return symbols(run("nm", "--defined-only", elf.toString()));
    }

    /** nm lines: "0000000000100000 T _start". */
    private static Map<String, Long> symbols(String nmOutput) {
        Map<String, Long> symbols = new HashMap<>();
        for (String line : nmOutput.split("\n")) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length == 3) {
                symbols.put(fields[2], Long.parseUnsignedLong(fields[0], 16));
            }
        }
        return symbols;
    }

    /** Runs one binutils command and returns its output; a failure or a timeout is an IOException. */
    public static String run(String... command) throws IOException {
        Process process;
        try {
            process = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException(command[0] + " not found: the KVM payload tests need GNU binutils"
                    + " (as, ld, objcopy, nm; Debian: apt-get install binutils)", e);
        }
        try {
            process.getOutputStream().close();
            byte[] output = process.getInputStream().readAllBytes();
            if (!process.waitFor(TOOL_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException(command[0] + " did not finish in " + TOOL_TIMEOUT_SECONDS + " s");
            }
            String text = new String(output, StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed:\n" + text);
            }
            return text;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IOException(command[0] + " interrupted", e);
        }
    }
}
