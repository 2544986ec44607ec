package io.vmguard.seal;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.LazyFill;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.memory.MemoryRegion;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import io.vmguard.sys.Userfaultfd;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A sealed snapshot's memory restored post-copy style: guest RAM is mapped empty and registered with a
 * userfaultfd, and a helper process ({@link PostCopyServer}) answers each missing-page fault by decrypting
 * the 64 KiB chunk that holds it (UFFDIO_COPY; holes UFFDIO_ZEROPAGE) while it decrypts the rest in order,
 * until guest RAM is complete. Then the range is unregistered and the helper ends.
 *
 * <p>Why another process: a thread of this JVM that touches a missing page (an interpreter vCPU, a device,
 * introspection) blocks in the fault while the JVM counts it as running Java code, so a safepoint (a GC)
 * waits for it; a handler thread in this JVM would stop at that safepoint before it could answer, and the
 * VMM would hang. The helper's own safepoints wait for nothing here. It takes no lock of the VMM and never
 * touches the registered range: it only writes to it through the kernel.
 *
 * <p>A chunk that fails its authentication mid-run cannot be un-run: the helper reports it and ends, and
 * the VM is stopped with that reason ({@link #onFailure}); the waiting faults are then released as zero
 * pages, which only the stopping guest can see.
 */
public final class PostCopyRestore implements LazyFill {
    private final Userfaultfd uffd;
    private final List<MemorySegment> ranges;
    private final int socket;
    private final int pid;
    private final long started = System.nanoTime();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final List<Consumer<String>> failureActions = new ArrayList<>();
    private final Thread watcher;
    private volatile boolean complete;
    private volatile boolean closing;
    private volatile String failure;
    private volatile long completeNanos = -1;
    private volatile String counts = "";
    private boolean released;

    private PostCopyRestore(Userfaultfd uffd, List<MemorySegment> ranges, int socket, int pid) {
        this.uffd = uffd;
        this.ranges = ranges;
        this.socket = socket;
        this.pid = pid;
        this.watcher = Thread.ofPlatform().name("post-copy-watch").daemon().unstarted(this::watch);
    }

    /** Why a lazy restore cannot fill memory from {@code backend} here, or null when it can. */
    static String unavailableFor(MemoryBackend backend) {
        if (backend == MemoryBackend.SECRET) {
            return "userfaultfd cannot fill memfd_secret memory (the kernel registers only anonymous, shmem and hugetlb mappings)";
        }
        if (!Files.isExecutable(javaLauncher())) {
            return "no java launcher at " + javaLauncher() + " for the decrypting helper";
        }
        return null;
    }

    /**
     * Registers {@code memory}'s regions (fresh, untouched) with a new userfaultfd and starts the helper on
     * {@code file}, which the caller has opened and authenticated with {@code key} already.
     */
    static PostCopyRestore start(Path file, List<GuestMemory.Range> layout, UUID id, byte[] key, GuestMemory memory)
            throws NativeException, IOException {
        Userfaultfd uffd = Userfaultfd.create();
        List<MemorySegment> ranges = new ArrayList<>();
        int[] pair = null;
        try {
            for (MemoryRegion region : memory.regions()) {
                uffd.register(region.backing());
                ranges.add(region.backing());
            }
            pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC);
            List<String> argv = List.of(javaLauncher().toString(), "--enable-native-access=ALL-UNNAMED", "-Xmx96m",
                    "-XX:+UseSerialGC", "-XX:-UsePerfData", "-cp", System.getProperty("java.class.path"),
                    PostCopyServer.class.getName());
            int pid = Libc.spawn(argv, pair[1], uffd.fd());
            Libc.close(pair[1]);
            PostCopyRestore restore = new PostCopyRestore(uffd, ranges, pair[0], pid);
            restore.send(plan(file, id, key, memory));
            restore.watcher.start();
            return restore;
        } catch (NativeException | IOException | RuntimeException e) {
            if (pair != null) {
                Libc.close(pair[0]);
            }
            for (MemorySegment range : ranges) {
                quietlyUnregister(uffd, range);
            }
            uffd.close();
            throw e;
        }
    }

    private static Path javaLauncher() {
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    /** What the helper needs: the file, the snapshot's id, the key, and where each region lives in this process. */
    private static byte[] plan(Path file, UUID id, byte[] key, GuestMemory memory) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF(file.toAbsolutePath().toString());
        out.writeLong(id.getMostSignificantBits());
        out.writeLong(id.getLeastSignificantBits());
        out.write(key);
        out.writeInt(memory.regions().size());
        for (MemoryRegion region : memory.regions()) {
            out.writeLong(region.start());
            out.writeLong(region.size());
            out.writeLong(region.backing().address());
        }
        out.flush();
        return bytes.toByteArray();
    }

    private void send(byte[] plan) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(4 + plan.length);
            buffer.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 0, plan.length);
            MemorySegment.copy(plan, 0, buffer, ValueLayout.JAVA_BYTE, 4, plan.length);
            Libc.CallState state = new Libc.CallState(arena);
            long at = 0;
            while (at < buffer.byteSize()) {
                long n = Libc.write(socket, buffer.asSlice(at), state);
                if (n <= 0 && n != -Libc.EINTR) {
                    throw new IOException("cannot hand the decrypting helper its work: " + Libc.strerror((int) -n));
                }
                at += Math.max(n, 0);
            }
            buffer.fill((byte) 0); // the key was in there
        }
    }

    /** Reads the helper's lines until it ends: "resident ..." or "failed REASON". */
    private void watch() {
        String ending = "the decrypting helper process ended before guest memory was complete";
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(1024);
            Libc.CallState state = new Libc.CallState(arena);
            StringBuilder line = new StringBuilder();
            while (true) {
                long n = Libc.read(socket, buffer, state);
                if (n == -Libc.EINTR) {
                    continue;
                }
                if (n <= 0) {
                    break;
                }
                for (long i = 0; i < n; i++) {
                    char c = (char) (buffer.get(ValueLayout.JAVA_BYTE, i) & 0xff);
                    if (c != '\n') {
                        if (line.length() < 1024) {
                            line.append(c);
                        }
                        continue;
                    }
                    String text = line.toString();
                    line.setLength(0);
                    if (text.startsWith("resident")) {
                        counts = text.substring("resident".length()).trim();
                        completeNanos = System.nanoTime() - started;
                        complete = true;
                        release();
                        ended.countDown();
                        Libc.close(socket); // tells the helper to end
                        Libc.waitpid(pid, 0);
                        return;
                    }
                    if (text.startsWith("failed ")) {
                        ending = text.substring("failed ".length());
                    }
                }
            }
        }
        Libc.waitpid(pid, 0);
        if (!closing) {
            fail(ending);
        }
        release();
        ended.countDown();
        Libc.close(socket);
    }

    private void fail(String reason) {
        List<Consumer<String>> actions;
        synchronized (this) {
            failure = reason;
            actions = List.copyOf(failureActions);
        }
        for (Consumer<String> action : actions) {
            action.accept(reason);
        }
    }

    /** Ends the registration: faults still waiting are served as ordinary ones (zero pages) from here on. */
    private synchronized void release() {
        if (released) {
            return;
        }
        released = true;
        for (MemorySegment range : ranges) {
            quietlyUnregister(uffd, range);
        }
        uffd.close();
    }

    private static void quietlyUnregister(Userfaultfd uffd, MemorySegment range) {
        try {
            uffd.unregister(range);
        } catch (NativeException e) {
            // Unmapped already (the memory closed first): nothing is registered there any more.
        }
    }

    @Override
    public boolean complete() {
        return complete;
    }

    @Override
    public boolean awaitComplete(Duration timeout) throws InterruptedException {
        ended.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
        return complete;
    }

    @Override
    public String failure() {
        return failure;
    }

    @Override
    public void onFailure(Consumer<String> action) {
        String already;
        synchronized (this) {
            already = failure;
            if (already == null) {
                failureActions.add(action);
            }
        }
        if (already != null) {
            action.accept(already);
        }
    }

    /** Nanoseconds from the start until guest memory was complete, or -1 while it is not. */
    public long completeNanos() {
        return completeNanos;
    }

    /** The helper's own account once complete: "faulted=N background=M holes=H". */
    public String counts() {
        return counts;
    }

    @Override
    public void close() {
        if (complete || ended.getCount() == 0) {
            return;
        }
        closing = true;
        Libc.kill(pid, Libc.SIGKILL);
        try {
            if (!ended.await(10, TimeUnit.SECONDS)) {
                release();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            release();
        }
    }
}
