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
 */
public final class PostCopyHelper implements AutoCloseable {
    /** JVM options: C1 only (the helper's Java is a thin loop around libcrypto and ioctls, and C2 would only cost CPU). */
    private static final List<String> JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED", "-Xmx64m", "-Xss512k",
            "-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1");

    final Userfaultfd uffd;
    final int socket;
    final int pid;
    final Path file;
    private boolean handedOver;
    private boolean closed;

    private PostCopyHelper(Userfaultfd uffd, int socket, int pid, Path file) {
        this.uffd = uffd;
        this.socket = socket;
        this.pid = pid;
        this.file = file;
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
            return spawnNow(file);
        } finally {
            Phases.since("restore.helper_spawn", started);
        }
    }

    private static PostCopyHelper spawnNow(Path file) throws NativeException {
        Userfaultfd uffd = Userfaultfd.create();
        int fileFd = -1;
        int[] pair = null;
        try {
            fileFd = Libc.open(file.toString(), Libc.O_CLOEXEC); // O_RDONLY is 0
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
