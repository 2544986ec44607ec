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

/**
 * {@code --seal-device PATH}: a missing path, a file that is no device, a device that is no TPM, or both
 * {@code --seal} and {@code --seal-device} are one line naming the problem and a failure, before any VM runs.
 */
class SealDeviceOptionTest {
    @TempDir
    Path dir;

    private String fails(String... args) {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            assertEquals(Main.EXIT_FAILURE, Main.execute(args));
        } finally {
            System.setErr(saved);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, text.lines().count(), text);
        return text;
    }

    private String runFails(String... sealOptions) throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        String[] args = new String[3 + sealOptions.length];
        args[0] = "run";
        args[1] = "--kernel";
        args[2] = kernel.toString();
        System.arraycopy(sealOptions, 0, args, 3, sealOptions.length);
        return fails(args);
    }

    @Test
    void aMissingDeviceIsOneLineNamingThePath() throws Exception {
        String missing = dir.resolve("tpmrm9").toString();
        String text = runFails("--seal-device", missing);
        assertTrue(text.contains(missing) && text.contains("no TPM device"), text);
    }

    @Test
    void aFileOrADeviceThatIsNoTpmIsOneLineNamingThePath() throws Exception {
        Path file = Files.writeString(dir.resolve("not-a-tpm"), "");
        String text = runFails("--seal-device", file.toString());
        assertTrue(text.contains(file + " is not a character device"), text);
        String devNull = runFails("--seal-device", "/dev/null");
        assertTrue(devNull.contains("/dev/null"), devNull);
        assertEquals(0, Files.size(file));
    }

    @Test
    void bothSealingTpmsAtOnceAreRefused() throws Exception {
        String text = runFails("--seal", dir.resolve("owner-tpm").toString(), "--seal-device", "/dev/tpmrm0");
        assertTrue(text.contains("give one"), text);
    }

    @Test
    void unsealDumpNeedsExactlyOneTpm() throws Exception {
        Path in = Files.writeString(dir.resolve("in"), "x");
        String text = fails("vmi", "unseal-dump", in.toString(), dir.resolve("out").toString());
        assertTrue(text.contains("--seal DIR or --seal-device PATH"), text);
    }
}
