package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.VmEvents;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.HostTool;
import io.vmguard.testing.InitramfsOverlay;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux under the interpreter finds the TPM through ACPI (tpm_crb binds, /dev/tpm0 works), and a raw
 * client (guest/programs/tpm-probe.c) gets random bytes and PCR values; the PCRs equal what the host
 * computes on its own from the kernel, initrd and command line files, the kernel's sysfs agrees, and the
 * event log in the area the ACPI TPM2 table names replays (tpm2_eventlog, the tpm2-tools oracle) to the same values.
 * The kernel reads that log too and shows it in securityfs: the guest's own
 * /sys/kernel/security/tpm0/binary_bios_measurements is the same log, and replays to the PCRs the guest read
 * with TPM2_PCR_Read.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpTpmGuestTest {
    private static final String SCRIPT = "tpm";
    private static final Pattern PCR = Pattern.compile("TPM-PCR (\\d+) ([0-9a-f]{64})");
    private static final Pattern SYSFS_PCR = Pattern.compile("TPM-SYSFS-PCR (\\d+) ([0-9a-f]{64})");
    private static final Pattern RANDOM = Pattern.compile("TPM-RANDOM(2?) ([0-9a-f]+)");

    @TempDir
    Path dir;

    @Test
    void theGuestReadsRandomBytesAndThePcrsTheHostComputesFromWhatBooted() throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(Path.of("guest/initramfs/scripts", SCRIPT))),
                dir.resolve("initrd.gz"));
        ConsoleLines console = new ConsoleLines();
        String commandLine = RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT;
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), initrd, commandLine, 192L << 20, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console));
        long swtpm;
        io.vmguard.testing.RecordingEventSink recorded = new io.vmguard.testing.RecordingEventSink();
        try (Vm vm = Vm.create(config, new InterpEngine(), recorded.forVm("tpm-test"), new GuestProtection(Optional.of(new TpmSettings(dir.resolve("tpm"))), MemoryBackend.ANONYMOUS))) {
            swtpm = vm.tpmProcess().orElseThrow();
            assertEquals(new RunOutcome.PoweredOff(0), vm.run(), console.text());
        }
        String text = console.text();

        Map<Integer, String> expected = expectedPcrs(BuiltGuest.bzImage(), initrd, commandLine);
        Map<Integer, String> read = matches(PCR, text);
        assertEquals(5, read.size(), text);
        for (int pcr : List.of(0, 7, 8, 9)) {
            assertEquals(expected.get(pcr), read.get(pcr), "PCR " + pcr + " read by the guest");
        }
        assertEquals("0".repeat(64), read.get(10), "PCR 10: no IMA in this kernel, nothing measured it");
        Map<Integer, String> sysfs = matches(SYSFS_PCR, text);
        for (int pcr : List.of(0, 8, 9)) {
            assertEquals(expected.get(pcr), sysfs.get(pcr), "PCR " + pcr + " in the kernel's sysfs");
        }

        Map<String, String> random = new HashMap<>();
        Matcher m = RANDOM.matcher(text);
        while (m.find()) {
            random.put(m.group(1), m.group(2));
        }
        assertEquals(32, random.getOrDefault("", "").length(), text);
        assertEquals(32, random.getOrDefault("2", "").length(), text);
        assertNotEquals(random.get(""), random.get("2"), "two GetRandom calls gave the same bytes");

        byte[] areaLog = checkEventLog(text, "TPM-LOG", expected);
        byte[] kernelLog = checkEventLog(text, "TPM-SECURITYFS-LOG", read);
        assertArrayEquals(areaLog, kernelLog, "the kernel's binary_bios_measurements is not the log vmguard wrote");
        var measuredEvent = recorded.events.stream().filter(e -> e.kind().equals("boot-measured")).findFirst().orElseThrow();
        assertEquals(expected.get(9), measuredEvent.details().get("pcr9"), "the boot-measured event names what the guest reads");
        assertEquals(expected.get(8), measuredEvent.details().get("pcr8"));
        assertFalse(ProcessHandle.of(swtpm).map(ProcessHandle::isAlive).orElse(false), "swtpm outlived its VM");
    }

    /** PCR 0: S-CRTM version and a separator; 1-7: a separator; 8: the command line; 9: kernel, then initrd. */
    private static Map<Integer, String> expectedPcrs(Path kernel, Path initrd, String commandLine) throws Exception {
        byte[] separator = sha256(new byte[4]);
        Map<Integer, String> pcrs = new HashMap<>();
        pcrs.put(0, hex(extend(extend(new byte[32], sha256("vmguard".getBytes(StandardCharsets.US_ASCII))), separator)));
        pcrs.put(7, hex(extend(new byte[32], separator)));
        pcrs.put(8, hex(extend(new byte[32], sha256(commandLine.getBytes(StandardCharsets.UTF_8)))));
        pcrs.put(9, hex(extend(extend(new byte[32], sha256(Files.readAllBytes(kernel))), sha256(Files.readAllBytes(initrd)))));
        return pcrs;
    }

    /** Replays the log the guest printed between {@code marker}-BEGIN and -END; its PCRs must be {@code expected}. Returns the log. */
    private byte[] checkEventLog(String text, String marker, Map<Integer, String> expected) throws Exception {
        int begin = text.indexOf(marker + "-BEGIN");
        int end = text.indexOf(marker + "-END");
        assertTrue(begin >= 0 && end > begin, marker + " missing:\n" + text);
        String base64 = text.substring(begin + (marker + "-BEGIN").length(), end).replaceAll("\\s", "");
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new AssertionError("the event log is not base64: " + text.substring(begin, end), e);
        }
        byte[] trimmed = java.util.Arrays.copyOf(bytes, logLength(bytes));
        Path log = Files.write(dir.resolve(marker.toLowerCase()), trimmed);
        Process parse = new ProcessBuilder(HostTool.require("tpm2_eventlog", "apt-get install tpm2-tools").toString(),
                log.toString()).redirectErrorStream(true).start();
        String parsed = new String(parse.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, parse.waitFor(), parsed);
        assertFalse(parsed.contains("WARN"), "tpm2_eventlog checks the command line's digest against its text:\n" + parsed);
        // tpm2_eventlog ends with the replayed banks: "  sha256:\n    0 : 0x<64 hex>" per PCR.
        for (int pcr : List.of(0, 7, 8, 9)) {
            Pattern line = Pattern.compile("\\n\\s*" + pcr + " *: 0x([0-9A-Fa-f]{64})");
            Matcher m = line.matcher(parsed);
            assertTrue(m.find(), "PCR " + pcr + " in tpm2_eventlog's output:\n" + parsed);
            assertEquals(expected.get(pcr), m.group(1).toLowerCase(), "PCR " + pcr + " replayed from " + marker);
        }
        return trimmed;
    }

    /**
     * The log's length in its zero-filled area: the Spec ID event (32 bytes of header, then its size), then
     * TCG_PCR_EVENT2s (PCR, type, digest count, per digest an algorithm and 32 bytes, event size, event) up
     * to the first with no digest.
     */
    private static int logLength(byte[] area) {
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(area).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int at = 32 + in.getInt(28);
        while (at + 12 <= area.length && in.getInt(at + 8) != 0) {
            int digests = in.getInt(at + 8);
            int size = at + 12 + digests * (2 + 32);
            at = size + 4 + in.getInt(size);
        }
        return at;
    }

    private static Map<Integer, String> matches(Pattern pattern, String text) {
        Map<Integer, String> found = new HashMap<>();
        Matcher m = pattern.matcher(text);
        while (m.find()) {
            found.put(Integer.parseInt(m.group(1)), m.group(2));
        }
        return found;
    }

    private static byte[] extend(byte[] pcr, byte[] digest) throws Exception {
        MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
        sha256.update(pcr);
        sha256.update(digest);
        return sha256.digest();
    }

    private static byte[] sha256(byte[] bytes) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(bytes);
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
