package io.vmguard.vmi.dump;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.HostTool;
import io.vmguard.vmm.SerialTarget;
import io.vmguard.vmm.Vm;
import io.vmguard.vmm.VmConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
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
 * A dump of a live guest read by Debian's crash with the guest's vmlinux. The guest kernel boots from its
 * bzImage, so KASLR places it at a random address; the test knows the slide from the vCPU's LSTAR
 * (entry_SYSCALL_64 at run time) and System.map, and crash is never told it.
 *
 * <p>What bookworm's crash 8.0.2 can do with a Linux 6.12 dump, ours or QEMU's alike (checked against a
 * {@code dump-guest-memory} file of the same guest): it does not see that 6.12 is a KASLR kernel (it looks for
 * the symbol module_load_offset, gone since 6.10), so {@code --kaslr=auto} must say so; it then derives the
 * slide and phys_base from the QEMU notes' CR3 and IDTR, but its gdb corrupts its heap once the symbols are
 * relocated (a segfault or abort at the first command that needs gdb). Without {@code --kaslr}, crash finds a
 * "virtual" phys_base (slide included) by looking for the kernel banner in the dump: then gdb works and every
 * pointer into the direct map resolves, which is enough to walk the task list. Its {@code ps} cannot work on
 * 6.12 (mm_rss_stat_count, 6.2; the PID xarray's flexible pid.numbers[], 6.5: fixed in crash 8.0.3 and
 * 8.0.4); with a crash that has those fixes this test checks {@code ps} too.
 * Set {@code -Dvmguard.dump.keepIn=DIR} to keep the dump for crash by hand.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class CrashReadsGuestDumpGuestTest {
    private static final Duration BOOT = Duration.ofMinutes(5);
    private static final Duration CRASH_TIME = Duration.ofSeconds(120);
    private static final long START_KERNEL_MAP = 0xffff_ffff_8000_0000L;
    /** One task of crash's {@code list -s task_struct.pid,comm,real_parent}: its address, then the members. */
    private static final Pattern LISTED_TASK = Pattern.compile(
            "(?m)^([0-9a-f]{16})\\n\\s+pid = (\\d+),\\n\\s+comm = \"([^\"\\\\]*)(?:\\\\000)*\",\\n\\s+real_parent = 0x([0-9a-f]+)");

    @TempDir
    Path dir;

    private record Dumped(DumpResult result, long lstar) {}

    private record Task(long address, int pid, String comm, long parent) {}

    /** One boot, dumped, read by crash twice: for the slide, then for the task list. */
    private record Attempt(String out, long slide, long physBase) {}

    @Test
    void crashFindsTheSlideFromTheQemuNotesAndWalksTheGuestsTaskList() throws Exception {
        Path crash = HostTool.require("crash", "apt-get install crash (scripts/install-deps does)");
        Attempt attempt = attempt(crash);
        if (attempt.out().contains("list: invalid list entry: 0") || !attempt.out().contains("RELEASE:")) {
            // Seen once in about ten runs (2026-12-04, CI): bookworm's crash 8.0.2 walked into a zeroed task and
            // stopped, on a dump taken with the vCPU held at an instruction boundary. And once (2026-12-06, CI; 9
            // local runs passed) it gave up before its banner: "get_netdump_panic_task: failed", then "invalid
            // kernel virtual address: 0 type: 64-bit KVADDR"; its heuristics look for a panicking task in a kernel
            // that is running. Not explained yet: once more on a fresh boot, and a second such failure fails the
            // test; -Dvmguard.dump.keepIn=DIR keeps the dump to look at.
            System.out.println("crash failed on the first dump; dumping a fresh boot:\n" + attempt.out());
            attempt = attempt(crash);
        }
        String out = attempt.out();
        long slide = attempt.slide();
        long physBase = attempt.physBase();
        Matcher virtualBase = Pattern.compile("virtual dump phys_base: ([0-9a-f]+)").matcher(out);
        if (virtualBase.find()) { // crash did not relocate: its phys_base then includes the slide
            assertEquals(Long.toHexString(physBase + slide), virtualBase.group(1),
                    "the banner search and the QEMU notes agree on where the kernel is in physical memory");
        }
        assertTrue(out.matches("(?s).*RELEASE: " + Pattern.quote(kernelRelease()) + "\\s.*"), out);
        assertTrue(Pattern.compile("CPUS: 1(?!\\d)").matcher(out).find(), out); // -d1 may print more on the same line

        Map<Long, Task> tasks = listedTasks(out);
        Map<Integer, Task> byPid = new LinkedHashMap<>();
        tasks.values().forEach(task -> byPid.put(task.pid(), task));
        assertEquals("swapper/0", byPid.get(0).comm(), out);
        assertEquals(START_KERNEL_MAP, byPid.get(0).address() & 0xffff_ffff_8000_0000L, "init_task lives in the kernel image");
        assertEquals("init", byPid.get(1).comm(), out);
        assertEquals("kthreadd", byPid.get(2).comm(), out);
        Task counter = tasks.values().stream().filter(t -> t.comm().equals("counter")).findFirst()
                .orElseThrow(() -> new AssertionError("no counter process in crash's task list:\n" + out));
        assertEquals(byPid.get(1).address(), counter.parent(), "the guest script is a child of init");
        assertTrue(tasks.values().stream().filter(t -> t.comm().startsWith("kworker/")).count() >= 2, out);

        if (readsTheTaskTableOf612(crash)) {
            // A crash that reads 6.12's task table (8.0.4 or later): its ps must agree with the list. An older
            // one's ps fails in ways that vary with what else it misread, so its output is not looked at.
            assertPsLists(out, 1, 0, "init");
            assertPsLists(out, 2, 0, "[kthreadd]");
            assertPsLists(out, counter.pid(), 1, "counter");
        }
    }

    private Attempt attempt(Path crash) throws Exception {
        Path dump = dir.resolve("guest.core");
        Dumped dumped = dumpBootedGuest(dump);
        DumpResult.Written written = dumped.result().orThrow();
        assertEquals(256L << 20, written.memoryBytes(), "all RAM is in the dump");
        long slide = dumped.lstar() - symbol("entry_SYSCALL_64");
        assertTrue(slide != 0 && slide % 0x200000 == 0, String.format("KASLR moved the kernel by %#x", slide));

        // 1. The slide, derived by crash from the QEMU note's CR3 and IDTR (crash prints it while it starts).
        CrashSession relocated = CrashSession.run(crash, BuiltGuest.vmlinux(), dump,
                List.of("-d1", "--kaslr=auto", "--no_modules"), List.of(), CRASH_TIME, dir);
        assertEquals(Long.toHexString(slide), found(relocated, "calc_kaslr_offset: kaslr_offset=([0-9a-f]+)"), relocated.output());
        long physBase = Long.parseUnsignedLong(found(relocated, "calc_kaslr_offset: phys_base=([0-9a-f]+)"), 16);

        // 2. The processes: crash's own task list walk (crash's ps cannot read 6.12, see above).
        CrashSession session = CrashSession.run(crash, BuiltGuest.vmlinux(), dump, List.of("-d1", "--no_modules"),
                List.of("sys", "list task_struct.tasks -s task_struct.pid,comm,real_parent -h init_task", "ps"), CRASH_TIME, dir);
        String out = session.output();
        return new Attempt(out, slide, physBase);
    }

    /** Whether this crash is 8.0.4 or later, the first whose ps reads Linux 6.12's task table. */
    private static boolean readsTheTaskTableOf612(Path crash) throws Exception {
        Process version = new ProcessBuilder(crash.toString(), "--version").redirectErrorStream(true).start();
        String text = new String(version.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        version.waitFor();
        Matcher number = Pattern.compile("crash (\\d+)\\.(\\d+)\\.(\\d+)").matcher(text);
        if (!number.find()) {
            throw new AssertionError("crash --version printed no version: " + text);
        }
        int major = Integer.parseInt(number.group(1)), minor = Integer.parseInt(number.group(2)), patch = Integer.parseInt(number.group(3));
        return major > 8 || major == 8 && (minor > 0 || patch >= 4);
    }

    /** A line of crash's ps: PID, PPID, CPU, TASK, ST, %MEM, VSZ, RSS, COMM (">" marks an active task). */
    private static void assertPsLists(String out, int pid, int parent, String comm) {
        Pattern line = Pattern.compile("(?m)^>?\\s*" + pid + "\\s+" + parent + "\\s.*\\s" + Pattern.quote(comm) + "\\s*$");
        assertTrue(line.matcher(out).find(), "crash's ps lists " + pid + " " + comm + " (parent " + parent + "):\n" + out);
    }

    private Dumped dumpBootedGuest(Path dump) throws Exception {
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=counter vmguard.count=100000", 256L << 20, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console));
        Dumped dumped;
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            vm.start();
            console.await(Pattern.compile("COUNT 5"), 0, BOOT);
            dumped = vm.inspect(view ->
                    new Dumped(new ElfCoreWriter().write(view, dump), view.vcpus().getFirst().lstar()));
            vm.stop("dumped");
        }
        String keep = System.getProperty("vmguard.dump.keepIn");
        if (keep != null && dumped.result() instanceof DumpResult.Written) {
            Files.copy(dump, Path.of(keep).resolve("guest.core"), StandardCopyOption.REPLACE_EXISTING);
        }
        return dumped;
    }

    private static Map<Long, Task> listedTasks(String crashOutput) {
        Map<Long, Task> tasks = new LinkedHashMap<>();
        Matcher m = LISTED_TASK.matcher(crashOutput);
        while (m.find()) {
            long address = Long.parseUnsignedLong(m.group(1), 16);
            tasks.put(address, new Task(address, Integer.parseInt(m.group(2)), m.group(3), Long.parseUnsignedLong(m.group(4), 16)));
        }
        if (tasks.isEmpty()) {
            fail("crash listed no task:\n" + crashOutput);
        }
        return tasks;
    }

    private static String found(CrashSession session, String regex) {
        Matcher m = Pattern.compile(regex).matcher(session.output());
        if (!m.find()) {
            fail("no '" + regex + "' in crash's output:\n" + session.output());
        }
        return m.group(1);
    }

    private static long symbol(String name) throws IOException {
        try (var lines = Files.lines(BuiltGuest.systemMap())) {
            return lines.map(line -> line.split(" "))
                    .filter(fields -> fields.length == 3 && fields[2].equals(name))
                    .map(fields -> Long.parseUnsignedLong(fields[0], 16))
                    .findFirst().orElseThrow(() -> new AssertionError(name + " is not in System.map"));
        }
    }

    private static String kernelRelease() throws IOException {
        Matcher m = Pattern.compile("\"kernel_release\":\\s*\"([^\"]+)\"")
                .matcher(Files.readString(BuiltGuest.directory().resolve("manifest.json")));
        assertTrue(m.find(), "manifest.json names the kernel release");
        return m.group(1);
    }
}
