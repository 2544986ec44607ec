package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --seal-pcrs}: a PCR the sealing TPM does not keep, a word, or no --seal is one line and a failure, before any VM. */
class SealPcrsOptionTest {
    @TempDir
    Path dir;

    private String runFails(String... pcrOptions) throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            String[] args = new String[3 + pcrOptions.length];
            args[0] = "run";
            args[1] = "--kernel";
            args[2] = kernel.toString();
            System.arraycopy(pcrOptions, 0, args, 3, pcrOptions.length);
            assertEquals(Main.EXIT_FAILURE, Main.execute(args));
        } finally {
            System.setErr(saved);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, text.lines().count(), text);
        return text;
    }

    @Test
    void badSelectionsAndAMissingSealAreOneLine() throws Exception {
        String owner = dir.resolve("owner-tpm").toString();
        assertTrue(runFails("--seal", owner, "--seal-pcrs", "16").contains("0-15 only"));
        assertTrue(runFails("--seal", owner, "--seal-pcrs", "seven").contains("PCR numbers"));
        assertTrue(runFails("--seal-pcrs", "0,7").contains("needs --seal DIR"));
    }
}
