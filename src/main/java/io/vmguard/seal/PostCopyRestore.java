package io.vmguard.seal;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.LazyFill;
import io.vmguard.memory.MemoryRegion;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
 * introspection, the antivirus) blocks in the fault while the JVM counts it as running Java code, so a
 * safepoint (a GC) waits for it; a handler thread in this JVM would stop at that safepoint before it could
 * answer, and the VMM would hang. The helper's own safepoints wait for nothing here. It takes no lock of the
 * VMM and never touches the registered range: it only writes to it through the kernel.
 *
 * <p>A chunk that fails its authentication mid-run cannot be un-run: the helper reports it and ends, and
 * the VM is stopped with that reason ({@link #onFailure}); the waiting faults are then released as zero
 * pages, which only the stopping guest can see.
 */
public final class PostCopyRestore implements LazyFill {
    private final PostCopyHelper helper;
    private final List<MemorySegment> ranges;
    private final long started = System.nanoTime();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final List<Consumer<String>> failureActions = new ArrayList<>();
    private volatile boolean complete;
    private volatile boolean closing;
    private volatile String failure;
    private volatile long completeNanos = -1;
    private volatile String counts = "";
    private boolean released;

    private PostCopyRestore(PostCopyHelper helper, List<MemorySegment> ranges) {
        this.helper = helper;
        this.ranges = ranges;
    }

    /**
     * Registers {@code memory}'s regions (fresh, untouched) with {@code helper}'s userfaultfd and hands it
     * the work: {@code opened} (the file's header and chunk table, authenticated here) and {@code key}.
     * On failure the helper is closed and nothing stays registered.
     */
    static PostCopyRestore start(PostCopyHelper helper, SealedMemoryImage.Opened opened, byte[] key, GuestMemory memory)
            throws NativeException, IOException {
        helper.handOver();
        List<MemorySegment> ranges = new ArrayList<>();
        PostCopyRestore restore = new PostCopyRestore(helper, ranges);
        try {
            for (MemoryRegion region : memory.regions()) {
                helper.uffd.register(region.backing());
                ranges.add(region.backing());
            }
            restore.send(plan(helper, opened, key, memory));
        } catch (NativeException | IOException | RuntimeException e) {
            restore.closing = true;
            Libc.kill(helper.pid, Libc.SIGKILL);
            restore.release();
            Libc.close(helper.socket);
            Libc.waitpid(helper.pid, 0);
            throw e;
        }
        Thread.ofPlatform().name("post-copy-watch").daemon().start(restore::watch);
        return restore;
    }

    /** What the helper needs: the authenticated layout of the file, the key, and where each region lives here. */
    private static byte[] plan(PostCopyHelper helper, SealedMemoryImage.Opened opened, byte[] key, GuestMemory memory)
            throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF(helper.file.toString());
        out.writeBoolean(helper.opensByName);
        if (helper.opensByName) { // which file the helper must find under that name: the one authenticated here
            out.writeLong(((Number) java.nio.file.Files.getAttribute(helper.file, "unix:dev")).longValue());
            out.writeLong(((Number) java.nio.file.Files.getAttribute(helper.file, "unix:ino")).longValue());
        }
        out.writeInt(opened.headerDigest().length);
        out.write(opened.headerDigest());
        out.writeLong(opened.dataStart());
        out.writeLong(opened.chunks());
        byte[] present = opened.present().toByteArray();
        out.writeInt(present.length);
        out.write(present);
        out.write(key);
        out.writeInt(memory.regions().size());
        for (MemoryRegion region : memory.regions()) {
            out.writeLong(region.size());
            out.writeLong(region.backing().address());
        }
        out.flush();
        return bytes.toByteArray();
    }

    private void send(byte[] plan) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(4 + plan.length);
            buffer.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 0, plan.length);
            MemorySegment.copy(plan, 0, buffer, ValueLayout.JAVA_BYTE, 4, plan.length);
            java.util.Arrays.fill(plan, (byte) 0); // the key was in there
            Libc.CallState state = new Libc.CallState(arena);
            long at = 0;
            while (at < buffer.byteSize()) {
                long n = Libc.write(helper.socket, buffer.asSlice(at), state);
                if (n <= 0 && n != -Libc.EINTR) {
                    buffer.fill((byte) 0);
                    throw new IOException("cannot hand the decrypting helper its work: " + Libc.strerror((int) -n));
                }
                at += Math.max(n, 0);
            }
            buffer.fill((byte) 0);
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
                long n = Libc.read(helper.socket, buffer, state);
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
                        Libc.close(helper.socket); // tells the helper to end
                        Libc.waitpid(helper.pid, 0);
                        PostCopyHelper.startStandby();
                        return;
                    }
                    if (text.startsWith("failed ")) {
                        ending = text.substring("failed ".length());
                    }
                }
            }
        }
        Libc.waitpid(helper.pid, 0);
        if (!closing) {
            fail(ending);
        }
        release();
        ended.countDown();
        Libc.close(helper.socket);
        PostCopyHelper.startStandby();
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
            try {
                helper.uffd.unregister(range);
            } catch (NativeException e) {
                // Unmapped already: nothing is registered there any more.
            }
        }
        helper.uffd.close();
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

    /** The helper process's pid. */
    int helperPid() {
        return helper.pid;
    }

    /** Nanoseconds from the hand-over until guest memory was complete, or -1 while it is not. */
    public long completeNanos() {
        return completeNanos;
    }

    /** The helper's own account once complete: "faulted=N background=M holes=H". */
    public String counts() {
        return counts;
    }

    @Override
    public void close() {
        if (ended.getCount() == 0) {
            return;
        }
        closing = true;
        Libc.kill(helper.pid, Libc.SIGKILL);
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
