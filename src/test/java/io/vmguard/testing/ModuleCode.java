package io.vmguard.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Bytes of a kernel module's init code that stay as they are on disk once the kernel has loaded it: the
 * loader rewrites relocated fields (and the instructions around them, for ftrace's and retpolines' sake),
 * alternatives and lock prefixes, so a signature for the loaded code must avoid all of those. Read with
 * binutils (objcopy, readelf), the module toolchain's own tools.
 */
public final class ModuleCode {
    private static final Pattern SECTION = Pattern.compile("Relocation section '([^']+)'");
    private static final Pattern ENTRY = Pattern.compile(
            "^([0-9a-f]{16})\\s+[0-9a-f]{16}\\s+(R_X86_64_\\w+)\\s+[0-9a-f]{16}\\s+(\\S+)\\s*([+-])\\s*([0-9a-f]+)\\s*$");
    /** How much of the init code an alternative may replace, at most (generous: replacements are short). */
    private static final int ALTERNATIVE_SPAN = 16;

    private ModuleCode() {}

    /** {@code length} bytes from the middle of the longest stretch of .init.text that loading leaves alone. */
    public static byte[] relocationFreeInitCode(Path module, Path workDir, int length) throws IOException, InterruptedException {
        Path binary = workDir.resolve("init-text.bin");
        run("objcopy", "-O", "binary", "--only-section=.init.text", module.toString(), binary.toString());
        byte[] code = Files.readAllBytes(binary);
        boolean[] touched = new boolean[code.length];
        String section = "";
        for (String line : run("readelf", "-rW", module.toString()).lines().toList()) {
            Matcher header = SECTION.matcher(line);
            if (header.find()) {
                section = header.group(1);
                continue;
            }
            Matcher entry = ENTRY.matcher(line.trim());
            if (!entry.matches()) {
                continue;
            }
            long offset = Long.parseLong(entry.group(1), 16);
            long addend = Long.parseLong(entry.group(5), 16) * (entry.group(4).equals("-") ? -1 : 1);
            switch (section) {
                // The relocated field, and the opcode bytes before it (a call may become a NOP or a thunk call).
                case ".rela.init.text" -> mark(touched, offset - 3, offset + (entry.group(2).equals("R_X86_64_64") ? 8 : 4));
                case ".rela.altinstructions", ".rela.smp_locks", ".rela.retpoline_sites", ".rela.return_sites",
                     ".rela.call_sites", ".rela.ibt_endbr_seal" -> {
                    if (entry.group(3).equals(".init.text")) {
                        mark(touched, addend, addend + ALTERNATIVE_SPAN);
                    }
                }
                default -> { }
            }
        }
        int bestStart = 0, bestLength = 0;
        for (int i = 0; i < code.length; ) {
            if (touched[i]) {
                i++;
                continue;
            }
            int start = i;
            while (i < code.length && !touched[i]) {
                i++;
            }
            if (i - start > bestLength) {
                bestStart = start;
                bestLength = i - start;
            }
        }
        if (bestLength < length) {
            throw new IOException("no " + length + " untouched bytes in " + module + "'s .init.text (longest: " + bestLength + ")");
        }
        int from = bestStart + (bestLength - length) / 2;
        return java.util.Arrays.copyOfRange(code, from, from + length);
    }

    private static void mark(boolean[] touched, long from, long to) {
        for (long i = Math.max(0, from); i < Math.min(touched.length, to); i++) {
            touched[(int) i] = true;
        }
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        if (process.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + ": " + output.strip());
        }
        return output;
    }
}
