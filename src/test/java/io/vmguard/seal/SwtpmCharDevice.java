package io.vmguard.seal;

import io.vmguard.sys.Libc;
import io.vmguard.tpm.TpmCodec;
import io.vmguard.tpm.TpmDevice;
import io.vmguard.tpm.TpmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for a host TPM device (test harness): {@code swtpm chardev --fd 3} owns one end of a
 * SOCK_SEQPACKET socket pair, which keeps message boundaries as /dev/tpmrm0 does (one command per write, one
 * response per read); each "open" is a copy of the other end. The harness plays the kernel's part once, as the
 * kernel does at boot: it sends TPM2_Startup(CLEAR) itself, so vmguard must not.
 */
final class SwtpmCharDevice implements AutoCloseable {
    private final int fd;
    private final int pid;
    private final AtomicInteger opens = new AtomicInteger();

    private SwtpmCharDevice(int fd, int pid) {
        this.fd = fd;
        this.pid = pid;
    }

    /** A manufactured TPM with its state in {@code state}, started and powered as a booted host's is. */
    static SwtpmCharDevice start(Path state) throws Exception {
        Files.createDirectories(state);
        Process setup = new ProcessBuilder("swtpm_setup", "--tpm2", "--tpmstate", state.toAbsolutePath().toString(),
                "--pcr-banks", "sha256").redirectErrorStream(true).start();
        String output = new String(setup.getInputStream().readAllBytes());
        if (!setup.waitFor(60, TimeUnit.SECONDS) || setup.exitValue() != 0) {
            throw new IllegalStateException("swtpm_setup failed: " + output);
        }
        int[] pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC);
        int pid;
        try {
            // not-need-init: powered at start, as a chip is when the kernel probes it.
            pid = Libc.spawn(List.of(swtpm(), "chardev", "--tpm2", "--fd", "3", "--tpmstate", "dir=" + state.toAbsolutePath(),
                    "--flags", "not-need-init"), pair[1]);
        } finally {
            Libc.close(pair[1]);
        }
        SwtpmCharDevice device = new SwtpmCharDevice(pair[0], pid);
        try (TpmDevice kernel = TpmDevice.onDescriptor(pair[0], "the kernel's")) {
            int code = TpmCodec.responseCode(kernel.execute(TpmCodec.startupClear()));
            if (code != TpmCodec.RC_SUCCESS) {
                throw new IllegalStateException("TPM2_Startup answered 0x" + Integer.toHexString(code));
            }
        } catch (Exception e) {
            device.close();
            throw e;
        }
        return device;
    }

    private static String swtpm() {
        for (String directory : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path candidate = Path.of(directory, "swtpm");
            if (!directory.isEmpty() && Files.isExecutable(candidate)) {
                return candidate.toAbsolutePath().toString();
            }
        }
        throw new IllegalStateException("swtpm is not installed");
    }

    /** Opens the device for one use, as open("/dev/tpmrm0") would. */
    TpmDevice open() throws TpmException {
        opens.incrementAndGet();
        return TpmDevice.onDescriptor(fd, "the test's TPM device");
    }

    int opens() {
        return opens.get();
    }

    @Override
    public void close() {
        Libc.close(fd); // swtpm sees its peer go and exits
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        boolean reaped = Libc.waitpid(pid, Libc.WNOHANG) != -1;
        while (!reaped && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            reaped = Libc.waitpid(pid, Libc.WNOHANG) != -1;
        }
        if (!reaped && Libc.kill(pid, Libc.SIGKILL)) {
            Libc.waitpid(pid, 0);
        }
    }
}
