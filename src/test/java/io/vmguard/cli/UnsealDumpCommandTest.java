package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.seal.SealedDump;
import io.vmguard.seal.SealingTpm;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code vmguard vmi unseal-dump}: opens a sealed dump with the owner's TPM; anything else is one line and a non-zero status. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class UnsealDumpCommandTest {
    @TempDir
    Path dir;

    @Test
    void theOwnersTpmOpensASealedDumpAndAPlainFileIsRefusedInOneLine() throws Exception {
        // The dump is sealed with an empty authorisation value, as the command uses when the variable is unset.
        assumeTrue(System.getenv(ProtectionOptions.AUTH_VARIABLE) == null);
        Path owner = dir.resolve("owner-tpm");
        byte[] content = new byte[200_000];
        byte[] marker = "a secret the guest held".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(marker, 0, content, 150_000, marker.length);
        Path sealed = dir.resolve("vm.core.sealed");
        try (SealedDump.Writer writer = SealedDump.Writer.create(sealed, SealedDump.Key.fresh(new SealingTpm(owner, new byte[0])))) {
            writer.write(ByteBuffer.wrap(content), 0);
            writer.commit();
        }
        Path out = dir.resolve("vm.core");
        assertEquals(0, Main.execute("vmi", "unseal-dump", "--seal", owner.toString(), sealed.toString(), out.toString()));
        assertArrayEquals(content, Files.readAllBytes(out));

        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            assertFalse(Main.execute("vmi", "unseal-dump", "--seal", owner.toString(), out.toString(), dir.resolve("again").toString()) == 0);
        } finally {
            System.setErr(saved);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("not a sealed vmguard dump") && text.lines().count() == 1, text);
        assertFalse(Files.exists(dir.resolve("again")));
    }
}
