package io.vmguard.arch.x86.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import io.vmguard.testing.HostTool;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The TPM2 table and MSFT0101 device Linux's tpm_crb needs, laid out as QEMU 7.2 lays them out, read back by iasl. */
class Tpm2Test {
    private static final Tpm2 TPM = new Tpm2(0xFED4_0000L, 0x1000, 0xFED4_0040L, X86Layout.TPM_EVENT_LOG, X86Layout.TPM_EVENT_LOG_SIZE);

    @TempDir
    Path dir;

    private static InstalledTables install(AcpiPlatform platform) throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(X86Layout.MINIMUM_MEMORY))) {
            return InstalledTables.read(memory, AcpiTables.install(memory, platform));
        }
    }

    @Test
    void theTableIsQemusRevision4LayoutWithTheControlAreaCrbStartAndLogArea() throws Exception {
        byte[] table = install(new AcpiPlatform(1, true, List.of()).withTpm(TPM)).get("TPM2");
        ByteBuffer in = InstalledTables.le(table);
        assertEquals(76, table.length, "Linux reads the log area only from a table of 76 bytes or more");
        assertEquals(4, table[8], "revision");
        assertEquals(0, in.getShort(36), "platform class: client");
        assertEquals(0xFED4_0040L, in.getLong(40), "control area: the CRB page + 0x40, or tpm_crb skips the locality registers");
        assertEquals(7, in.getInt(48), "start method: CRB");
        assertEquals(X86Layout.TPM_EVENT_LOG_SIZE, in.getInt(64), "LAML");
        assertEquals(X86Layout.TPM_EVENT_LOG, in.getLong(68), "LASA");
    }

    @Test
    void iaslReadsTheTableAndTheDsdtDeclaresTheCrbPageAsMsft0101() throws Exception {
        Path iasl = HostTool.require("iasl", "install Debian's acpica-tools (scripts/install-deps does)");
        InstalledTables tables = install(new AcpiPlatform(1, true, List.of()).withTpm(TPM));
        String tpm2 = disassemble(iasl, "TPM2", tables.get("TPM2"));
        assertTrue(Pattern.compile("Control Address : 00000000FED40040").matcher(tpm2).find(), tpm2);
        assertTrue(Pattern.compile("Start Method : 07").matcher(tpm2).find(), tpm2);
        assertTrue(tpm2.contains("Minimum Log Length : 00010000"), tpm2);
        assertTrue(tpm2.contains("Log Address : 00000000000D0000"), tpm2);
        String dsdt = disassemble(iasl, "DSDT", tables.get("DSDT"));
        assertTrue(dsdt.contains("\"MSFT0101\""), dsdt);
        assertTrue(Pattern.compile("Memory32Fixed \\(ReadWrite,\\s*0xFED40000, // Address Base\\s*0x00001000,").matcher(dsdt).find(), dsdt);
    }

    @Test
    void withoutATpmThereIsNoTableAndNoDevice() throws Exception {
        InstalledTables tables = install(new AcpiPlatform(1, true, List.of()));
        assertFalse(tables.tables().containsKey("TPM2"));
        assertFalse(new String(tables.get("DSDT"), StandardCharsets.ISO_8859_1).contains("MSFT0101"));
    }

    @Test
    void aControlAreaOutsideTheCrbPageIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Tpm2(0xFED4_0000L, 0x1000, 0xFED4_1000L, 0xD0000, 0x10000));
    }

    private String disassemble(Path iasl, String signature, byte[] table) throws Exception {
        Path file = dir.resolve(signature.toLowerCase() + ".dat");
        Files.write(file, table);
        Process process = new ProcessBuilder(iasl.toString(), "-d", file.getFileName().toString()).directory(dir.toFile())
                .redirectErrorStream(true).start();
        String report = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue(), report);
        String asl = Files.readString(dir.resolve(signature.toLowerCase() + ".dsl"));
        assertFalse(Pattern.compile("(?im)^.*\\b(error|warning|incorrect|invalid)\\b.*$").matcher(report + asl).find(), report + asl);
        return asl.replaceAll("[ \\t]+", " ");
    }
}
