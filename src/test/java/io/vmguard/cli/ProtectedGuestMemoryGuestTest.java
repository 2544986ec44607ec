package io.vmguard.cli;

import io.vmguard.testing.ByteSearch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.HostTool;
import io.vmguard.testing.InitramfsOverlay;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guest RAM as someone outside vmguard's process sees it: a guest leaves a random marker in its RAM
 * (guest/initramfs/scripts/marker), and this test, as another process (root here), reads the vmguard
 * process's memory through /proc/PID/mem. With the default backend root finds the marker; with
 * {@code --memory-backend secret} the guest RAM mapping cannot be read at all (EIO) and the marker is
 * nowhere in the process, while vmguard's own introspection still reads it. A core dump (gdb's gcore, which root
 * may take of any process) holds no guest page with either backend: guest RAM is MADV_DONTDUMP. What is searched
 * for is the marker's page content (two copies back to back, {@link Child#pageContent}): one copy may also be in
 * the vCPU's registers, which are vmguard's own state.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class ProtectedGuestMemoryGuestTest {
    private static final Pattern MARKER = Pattern.compile("MARKER ([0-9a-f]{32})");
    private static final Pattern MAPPING = Pattern.compile("(?m)^([0-9a-f]+)-([0-9a-f]+) (\\S+) \\S+ \\S+ \\S+\\s*(.*)$");

    @TempDir
    Path dir;

    @Test
    void rootReadsTheMarkerThroughProcPidMemFromAnonymousGuestRam() throws Exception {
        Scan scan = runAndScan("anonymous");
        assertTrue(scan.found > 0, "the marker is in the process: " + scan);
    }

    @Test
    void secretGuestRamCannotBeReadThroughProcPidMemAndTheMarkerIsNowhere() throws Exception {
        try (Child child = start("secret")) {
            Scan scan = scan(child.process.pid(), child.pageContent());
            assertEquals(0, scan.found, "the marker was readable: " + scan);
            assertTrue(scan.secretMappings > 0 && scan.secretUnreadable == scan.secretMappings, "secret mappings read: " + scan);
            // vmguard itself still reaches it: introspection reads the guest's processes and its RSDP.
            String sock = dir.resolve("api-secret.sock").toString();
            assertEquals(0, vmguard("vmi", "ps", "--api-sock", sock), out.toString(StandardCharsets.UTF_8));
            assertTrue(out.toString(StandardCharsets.UTF_8).contains("sleep"), out.toString(StandardCharsets.UTF_8));
            assertEquals(0, vmguard("vmi", "read", "--api-sock", sock, "--size", "8", "e0000"));
            assertTrue(out.toString(StandardCharsets.UTF_8).contains("52 53 44 20 50 54 52 20"), "RSD PTR: " + out);
        }
    }

    private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();

    /** Runs a vmguard client command in this process; its stdout goes to {@link #out}. */
    private int vmguard(String... args) {
        java.io.PrintStream saved = System.out;
        out.reset();
        System.setOut(new java.io.PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            return Main.execute(args);
        } finally {
            System.setOut(saved);
        }
    }

    @Test
    void aCoreDumpOfVmguardHoldsNoGuestPage() throws Exception {
        Path gcore = HostTool.require("gcore", "apt-get install gdb");
        try (Child child = start("anonymous")) {
            Path core = dir.resolve("core");
            Process dump = new ProcessBuilder(gcore.toString(), "-o", core.toString(), Long.toString(child.process.pid()))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("gcore.out").toFile()).start();
            assertTrue(dump.waitFor(3, TimeUnit.MINUTES), "gcore finished");
            Path file = core.resolveSibling("core." + child.process.pid());
            assertTrue(Files.exists(file), Files.readString(dir.resolve("gcore.out")));
            long dumped = Files.size(file);
            int found = countInFile(file, child.pageContent());
            Files.delete(file);
            assertTrue(dumped > 1 << 20, "a core of " + dumped + " bytes");
            assertEquals(0, found, "marker copies in a " + dumped + "-byte core dump");
            System.out.println("ProtectedGuestMemoryGuestTest: a " + dumped + "-byte core of vmguard with 256 MiB of guest RAM");
        }
    }

    private record Scan(int found, int secretMappings, int secretUnreadable, long bytesRead) {}

    private Scan runAndScan(String backend) throws Exception {
        try (Child child = start(backend)) {
            return scan(child.process.pid(), child.pageContent());
        }
    }

    /** Reads every readable mapping of {@code pid} through /proc/PID/mem and counts the marker's copies. */
    private static Scan scan(long pid, byte[] marker) throws IOException {
        String maps = Files.readString(Path.of("/proc/" + pid + "/maps"));
        int found = 0, secret = 0, secretUnreadable = 0;
        long read = 0;
        try (RandomAccessFile mem = new RandomAccessFile("/proc/" + pid + "/mem", "r")) {
            Matcher m = MAPPING.matcher(maps);
            while (m.find()) {
                long start = Long.parseUnsignedLong(m.group(1), 16);
                long end = Long.parseUnsignedLong(m.group(2), 16);
                boolean isSecret = m.group(4).contains("secretmem");
                secret += isSecret ? 1 : 0;
                if (m.group(3).charAt(0) != 'r' || m.group(4).startsWith("[vvar") || m.group(4).startsWith("[vsyscall")) {
                    continue;
                }
                byte[] chunk = new byte[1 << 20];
                boolean unreadable = false;
                for (long at = start; at < end; at += chunk.length) {
                    int length = (int) Math.min(chunk.length, end - at);
                    try {
                        mem.seek(at);
                        int n = mem.read(chunk, 0, length);
                        if (n > 0) {
                            read += n;
                            found += ByteSearch.count(java.util.Arrays.copyOf(chunk, n), marker);
                        }
                    } catch (IOException e) {
                        unreadable = true;
                    }
                }
                secretUnreadable += isSecret && unreadable ? 1 : 0;
            }
        }
        return new Scan(found, secret, secretUnreadable, read);
    }

    /** The marker's copies in a file of any size, read in chunks that overlap by the marker's length. */
    private static int countInFile(Path file, byte[] marker) throws IOException {
        int found = 0;
        try (java.io.InputStream in = Files.newInputStream(file)) {
            byte[] chunk = new byte[(8 << 20) + marker.length];
            int kept = 0;
            for (int n; (n = in.readNBytes(chunk, kept, chunk.length - kept)) > 0; ) {
                int length = kept + n;
                found += ByteSearch.count(java.util.Arrays.copyOf(chunk, length), marker);
                kept = Math.min(marker.length - 1, length);
                System.arraycopy(chunk, length - kept, chunk, 0, kept);
            }
        }
        return found;
    }

    /** A vmguard run in a new JVM whose guest has left its marker. */
    private record Child(Process process, byte[] marker) implements AutoCloseable {
        /**
         * What only a guest page holds: two copies of the marker back to back (the guest's tmpfs file has 64). One
         * copy alone can also sit in the vCPU's register file, which is vmguard's own state in its heap (XMM0-15 are
         * a long[], and the guest's libc moves the marker through them): register state, not a guest page, and it
         * made these searches fail now and then.
         */
        byte[] pageContent() {
            byte[] twice = java.util.Arrays.copyOf(marker, 2 * marker.length);
            System.arraycopy(marker, 0, twice, marker.length, marker.length);
            return twice;
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly().waitFor();
        }
    }

    private Child start(String backend) throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/marker", Files.readAllBytes(Path.of("guest/initramfs/scripts/marker"))),
                dir.resolve("initrd-" + backend + ".gz"));
        Path console = dir.resolve("console-" + backend + ".log");
        // A small heap keeps gcore's file small: it dumps every mapping but guest RAM, reserved heap included.
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx384m",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "run", "--kernel", BuiltGuest.bzImage().toString(), "--initrd", initrd.toString(),
                "--append", "vmguard.run=marker", "--serial", "file:" + console, "--memory-backend", backend,
                "--api-sock", dir.resolve("api-" + backend + ".sock").toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("vmguard-" + backend + ".out").toFile()).start();
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        try {
            while (System.nanoTime() < deadline) {
                String text = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
                Matcher m = MARKER.matcher(text);
                if (m.find() && text.contains("MARKER-READY")) {
                    return new Child(process, HexFormat.of().parseHex(m.group(1)));
                }
                assertTrue(process.isAlive(), "vmguard exited: " + Files.readString(dir.resolve("vmguard-" + backend + ".out"))
                        + "\n" + text);
                Thread.sleep(200);
            }
        } catch (Throwable t) {
            process.destroyForcibly().waitFor();
            throw t;
        }
        process.destroyForcibly().waitFor();
        throw new AssertionError("no marker within 3 minutes");
    }
}
