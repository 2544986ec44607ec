package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Checks hand-written FFM struct layouts and constants against the C headers of this machine: a C program
 * generated from the Java layouts prints sizeof/offsetof of every named field and the value of every macro,
 * so a layout cannot drift from the ABI unnoticed. Skips (saying so) where there is no gcc.
 */
public final class CHeaderCheck {
    /** A Java layout and the C type it mirrors; {@code anonymous} names Java groups that are unnamed in C. */
    public record CStruct(String cType, MemoryLayout layout, List<String> anonymous) {}

    private CHeaderCheck() {}

    /**
     * Asserts that every struct in {@code structs} and every macro in {@code macros} (C expression to the value
     * Java uses) match what C sees with {@code headers} included. {@code name} keeps the generated files of
     * different checks apart under target/.
     */
    public static void assertMatchesC(String name, List<String> headers, List<CStruct> structs, Map<String, Long> macros)
            throws IOException, InterruptedException {
        Map<String, Long> expected = new TreeMap<>();
        StringBuilder c = new StringBuilder();
        for (String header : headers) {
            c.append("#include <").append(header).append(">\n");
        }
        c.append("""
                #include <stddef.h>
                #include <stdio.h>
                int main(void) {
                """);
        for (CStruct struct : structs) {
            String structName = struct.cType().replace("struct ", "");
            expected.put(structName + " sizeof", struct.layout().byteSize());
            c.append(String.format("    printf(\"%s sizeof %%zu\\n\", sizeof(%s));%n", structName, struct.cType()));
            fields(struct, struct.layout(), "", "", 0, expected, c);
        }
        macros.forEach((macro, value) -> {
            expected.put(macro, value);
            c.append(String.format("    printf(\"%s %%llu\\n\", (unsigned long long) (%s));%n", macro, macro));
        });
        c.append("    return 0;\n}\n");

        assertEquals(expected, actualFromC(name, c.toString()));
    }

    /**
     * Adds the offset and size of every named member under {@code layout} (at {@code base}) to
     * {@code expected}, and the C statements printing them to {@code c}. Arrays are checked whole.
     */
    private static void fields(CStruct struct, MemoryLayout layout, String javaPath, String cPath, long base,
                               Map<String, Long> expected, StringBuilder c) {
        if (!(layout instanceof GroupLayout group)) {
            return;
        }
        boolean isStruct = group instanceof StructLayout;
        long offset = 0;
        for (MemoryLayout member : group.memberLayouts()) {
            long memberOffset = base + (isStruct ? offset : 0);
            if (isStruct) {
                offset += member.byteSize();
            }
            if (member instanceof PaddingLayout || member.name().isEmpty()) {
                continue;
            }
            String name = member.name().get();
            String memberJavaPath = javaPath + name;
            if (struct.anonymous().contains(memberJavaPath)) {
                fields(struct, member, memberJavaPath + ".", cPath, memberOffset, expected, c);
                continue;
            }
            String memberCPath = cPath + name;
            String key = struct.cType().replace("struct ", "") + "." + memberCPath;
            expected.put(key + " offset", memberOffset);
            expected.put(key + " size", member.byteSize());
            c.append(String.format("    printf(\"%s offset %%zu\\n\", offsetof(%s, %s));%n", key, struct.cType(), memberCPath));
            c.append(String.format("    printf(\"%s size %%zu\\n\", sizeof(((%s *) 0)->%s));%n", key, struct.cType(), memberCPath));
            fields(struct, member, memberJavaPath + ".", memberCPath + ".", memberOffset, expected, c);
        }
    }

    private static Map<String, Long> actualFromC(String name, String source) throws IOException, InterruptedException {
        Path dir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target", "layout-check", name);
        Files.createDirectories(dir);
        Path c = dir.resolve("check.c");
        Path binary = dir.resolve("check");
        Files.writeString(c, source);
        String compiler = run(List.of("gcc", "-Wall", "-Werror", "-o", binary.toString(), c.toString()), true);
        assumeTrue(compiler != null, "gcc not found: the C-header cross-check needs it (Debian: build-essential)");
        Map<String, Long> actual = new TreeMap<>();
        for (String line : run(List.of(binary.toString()), false).split("\n")) {
            int space = line.lastIndexOf(' ');
            actual.put(line.substring(0, space), Long.parseUnsignedLong(line.substring(space + 1)));
        }
        return actual;
    }

    /** Runs a command and returns its output; null when {@code missingIsNull} and the program does not exist. */
    private static String run(List<String> command, boolean missingIsNull) throws IOException, InterruptedException {
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            if (missingIsNull) {
                return null;
            }
            throw e;
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new AssertionError(String.join(" ", command) + " failed:\n" + output);
        }
        return output;
    }
}
