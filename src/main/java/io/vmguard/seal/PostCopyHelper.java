package io.vmguard.seal;

import io.vmguard.memory.MemoryBackend;
import io.vmguard.snapshot.Phases;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import io.vmguard.sys.Userfaultfd;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The decrypting helper process of a lazy restore, started before the restore needs it (its JVM starts
 * while the owner's TPM unseals the key) and idle until {@link PostCopyRestore#start} hands it its work:
 * a new userfaultfd (nothing registered yet), the sealed memory file opened here (so the helper reads the
 * very file this VMM authenticated, whatever happens to its name meanwhile), and a socket. Closing an
 * unused one ends the process.
 *
 * <p>A server ({@link #keepStandby}) keeps one helper started before any restore is asked for, so a lazy
 * restore through its API does not wait for a JVM to start. That helper cannot have inherited a file
 * nobody named yet: it opens the file by name when its work arrives and goes on only if what it opened is
 * the file the VMM authenticated (same device and inode). Either way every chunk it fills must pass its
 * authentication under this snapshot's key, so another file could only fail, never be filled.
 */
public final class PostCopyHelper implements AutoCloseable {
    /** JVM options: C1 only (the helper's Java is a thin loop around libcrypto and ioctls, and C2 would only cost CPU). */
    private static final List<String> JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED", "-Xmx64m", "-Xss512k",
            "-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1");

    /** The helper a server keeps started for its next lazy restore. */
    private static final java.util.concurrent.atomic.AtomicReference<PostCopyHelper> STANDBY =
            new java.util.concurrent.atomic.AtomicReference<>();
    private static volatile boolean keepStandby;

    final Userfaultfd uffd;
    final int socket;
    final int pid;
    /** The sealed memory file; for a helper taken from standby, named at the take-over, not inherited. */
    Path file;
    /** Whether the helper opens {@link #file} itself (a standby helper) rather than reading the descriptor it inherited. */
    boolean opensByName;
    private boolean handedOver;
    private boolean closed;

    private PostCopyHelper(Userfaultfd uffd, int socket, int pid, Path file) {
        this.uffd = uffd;
        this.socket = socket;
        this.pid = pid;
        this.file = file;
    }

    /**
     * From now on keeps a helper started ahead of the next lazy restore ({@code vmguard serve}: its restore
     * through the API then pays no JVM start). Never throws: without one, a restore spawns its own.
     */
    public static void keepStandby() {
        keepStandby = true;
        startStandby();
    }

    /**
     * Starts the next standby helper, when a server keeps one: called once a lazy restore's fill has ended, not
     * when its helper is taken, so the next JVM's start does not take a core from the restore it would slow.
     */
    static void startStandby() {
        if (!keepStandby || STANDBY.get() != null || unavailableFor(MemoryBackend.ANONYMOUS) != null) {
            return;
        }
        Thread.ofPlatform().name("post-copy-standby").daemon().start(() -> {
            try {
                PostCopyHelper helper = spawnNow(null);
                if (!STANDBY.compareAndSet(null, helper)) {
                    helper.close();
                }
            } catch (NativeException | RuntimeException e) {
                // A restore then spawns its own helper and reports what fails.
            }
        });
    }

    /** Stops keeping a helper on standby and ends the one waiting (tests: the standby is this JVM's). */
    static void stopStandby() {
        keepStandby = false;
        PostCopyHelper helper = STANDBY.getAndSet(null);
        if (helper != null) {
            helper.close();
        }
    }

    /** The pid of the helper on standby, or -1 while there is none. */
    static int standbyPid() {
        PostCopyHelper helper = STANDBY.get();
        return helper == null ? -1 : helper.pid;
    }

    /** The standby helper for {@code file}, if one is started and still alive (the next one starts after its fill). */
    private static PostCopyHelper takeStandby(Path file) {
        PostCopyHelper helper = STANDBY.getAndSet(null);
        if (helper == null) {
            return null;
        }
        if (Libc.waitpid(helper.pid, Libc.WNOHANG) != -1) { // it ended (or was killed) while it waited
            helper.closed = true;
            Libc.close(helper.socket);
            helper.uffd.close();
            startStandby();
            return null;
        }
        helper.file = file;
        helper.opensByName = true;
        return helper;
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

    /** Starts a helper for sealed memory file {@code file}. */
    public static PostCopyHelper spawn(Path file) throws NativeException {
        long started = System.nanoTime();
        try {
            PostCopyHelper standby = takeStandby(file);
            return standby != null ? standby : spawnNow(file);
        } finally {
            Phases.since("restore.helper_spawn", started);
        }
    }

    private static PostCopyHelper spawnNow(Path file) throws NativeException {
        Userfaultfd uffd = Userfaultfd.create();
        int fileFd = -1;
        int[] pair = null;
        try {
            // A standby helper gets /dev/null in the file's place: it opens the file by name later.
            fileFd = Libc.open(file == null ? "/dev/null" : file.toString(), Libc.O_CLOEXEC); // O_RDONLY is 0
            pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC);
            List<String> argv = new java.util.ArrayList<>();
            argv.add(javaLauncher().toString());
            argv.addAll(JVM_OPTIONS);
            argv.addAll(List.of("-cp", System.getProperty("java.class.path"), PostCopyServer.class.getName()));
            int pid = Libc.spawn(argv, pair[1], uffd.fd(), fileFd);
            return new PostCopyHelper(uffd, pair[0], pid, file);
        } catch (NativeException | RuntimeException e) {
            if (pair != null) {
                Libc.close(pair[0]);
            }
            uffd.close();
            throw e;
        } finally {
            if (pair != null) {
                Libc.close(pair[1]);
            }
            if (fileFd >= 0) {
                Libc.close(fileFd);
            }
        }
    }

    private static Path javaLauncher() {
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    /** Marks the helper as working for a restore: closing this no longer ends it (the restore does). */
    synchronized void handOver() {
        if (closed || handedOver) {
            throw new IllegalStateException("this helper was used or closed already");
        }
        handedOver = true;
    }

    /** Whether a restore took this helper over (its memory is filled lazily), rather than decrypting up front. */
    public synchronized boolean handedOver() {
        return handedOver;
    }

    /** Ends a helper that was never handed work. */
    @Override
    public synchronized void close() {
        if (closed || handedOver) {
            return;
        }
        closed = true;
        Libc.kill(pid, Libc.SIGKILL);
        Libc.close(socket);
        uffd.close();
        Libc.waitpid(pid, 0);
    }
}
