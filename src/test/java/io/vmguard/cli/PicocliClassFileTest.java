package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * picocli is built from its sources jar with vmguard's own release (pom.xml): its published jar holds Java 5 class
 * files, which the JVM's AOT cache cannot keep, and every {@code vmguard run} then loaded and verified them from the jar
 * before the guest's first instruction (docs/benchmarks.md, #session15-cli).
 */
class PicocliClassFileTest {
    @Test
    void picocliIsCompiledForTheReleaseVmguardIsCompiledFor() throws IOException {
        int vmguard = majorVersion(Main.class);
        assertEquals(vmguard, majorVersion(CommandLine.class));
        assertEquals(vmguard, majorVersion(CommandLine.Model.CommandSpec.class));
    }

    private static int majorVersion(Class<?> type) throws IOException {
        String resource = type.getName().substring(type.getPackageName().length() + 1) + ".class";
        try (InputStream in = type.getResourceAsStream(resource)) {
            return ClassFile.of().parse(in.readAllBytes()).majorVersion();
        }
    }
}
