package io.vmguard.tpm;

import java.io.EOFException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One swtpm process (Debian's {@code swtpm}, a libtpms TPM 2.0) serving one VM: started by vmguard with its
 * state in the owner's directory and its sockets in a private 0700 directory, spoken to over its control
 * channel ({@link SwtpmControl}) and its data channel (raw TPM commands). A state directory swtpm never
 * used is first manufactured by {@code swtpm_setup} with the SHA-256 PCR bank only (Linux refuses an event
 * log whose digest count differs from the TPM's banks).
 *
 * <p>No orphans: swtpm runs with {@code --terminate}, so it exits when its data connection goes, which the
 * kernel closes when vmguard's process ends however it ends; {@link #close} shuts it down in order.
 *
 * <p>The data channel takes one command per {@code write()}: swtpm 0.7 treats the first read of 10 bytes
 * or more as the whole command, whatever its header says. Commands are serialised here.
 */
public final class Swtpm implements TpmChannel, AutoCloseable {
    /** The command/response size vmguard asks for: the CRB buffer (4 KiB page less the registers), as QEMU uses. */
    public static final int BUFFER_SIZE = 3968;
    private static final long START_MILLIS = 10_000;
    private static final long SETUP_SECONDS = 60;
    private static final String PERMANENT_STATE = "tpm2-00.permall";

    private final Process process;
    private final Path socketDirectory;
    private final SwtpmControl control;
    private final SocketChannel data;
    private final Path log;

    private Swtpm(Process process, Path socketDirectory, SwtpmControl control, SocketChannel data, Path log) {
        this.process = process;
        this.socketDirectory = socketDirectory;
        this.control = control;
        this.data = data;
        this.log = log;
    }

    /**
     * Starts swtpm over state directory {@code stateDirectory} (created 0700 and manufactured on first use),
     * with the TPM stopped and its buffer set: call {@link #powerOn} (a boot) or restore state blobs first.
     */
    public static Swtpm start(Path stateDirectory) throws TpmException {
        return start(stateDirectory, System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    }

    /** As {@link #start(Path)}, finding swtpm and swtpm_setup on {@code searchPath} (tests take them away). */
    static Swtpm start(Path stateDirectory, String searchPath) throws TpmException {
        requireProgram("swtpm", searchPath);
        prepareState(stateDirectory, searchPath);
        Path sockets;
        try {
            sockets = Files.createTempDirectory("vmguard-swtpm-", PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new TpmException("cannot make a directory for swtpm's sockets: " + e.getMessage(), e);
        }
        Path controlSocket = sockets.resolve("ctrl");
        Path dataSocket = sockets.resolve("data");
        Path log = sockets.resolve("swtpm.log"); // its stderr: why it failed to start, if it does
        Process process;
        try {
            process = new ProcessBuilder("swtpm", "socket", "--tpm2",
                    "--tpmstate", "dir=" + stateDirectory.toAbsolutePath(),
                    "--ctrl", "type=unixio,path=" + controlSocket,
                    "--server", "type=unixio,path=" + dataSocket,
                    "--locality", "reject-locality-4",
                    "--terminate")
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
        } catch (IOException e) {
            deleteTree(sockets);
            throw new TpmException("cannot start swtpm: " + e.getMessage(), e);
        }
        SwtpmControl control = null;
        SocketChannel data = null;
        try {
            long deadline = System.currentTimeMillis() + START_MILLIS;
            control = new SwtpmControl(connect(awaitSocket(controlSocket, process, log, deadline), process, log, deadline));
            data = connect(awaitSocket(dataSocket, process, log, deadline), process, log, deadline);
            Swtpm swtpm = new Swtpm(process, sockets, control, data, log);
            control.stop();
            int size = control.setBufferSize(BUFFER_SIZE);
            if (size != BUFFER_SIZE) {
                throw new TpmException("swtpm settled on a " + size + "-byte buffer, not " + BUFFER_SIZE);
            }
            return swtpm;
        } catch (IOException | TpmException e) {
            closeQuietly(control, data);
            process.destroyForcibly();
            deleteTree(sockets);
            throw e instanceof TpmException tpm ? tpm : new TpmException("swtpm: " + e.getMessage() + lastLogLine(log), e);
        }
    }

    private static void requireProgram(String name, String searchPath) throws TpmException {
        boolean found = Stream.of(searchPath.split(":"))
                .anyMatch(directory -> !directory.isEmpty() && Files.isExecutable(Path.of(directory, name)));
        if (!found) {
            throw new TpmException("the TPM needs " + name + ", which is not installed (Debian packages swtpm and swtpm-tools: "
                    + "apt-get install swtpm swtpm-tools)");
        }
    }

    /** Makes the state directory (0700) and manufactures a TPM in it when it holds none. */
    private static void prepareState(Path directory, String searchPath) throws TpmException {
        try {
            if (!Files.isDirectory(directory)) {
                Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            // The state holds the TPM's seeds: whoever reads it can be this TPM. Refuse a directory others may enter.
            Set<PosixFilePermission> open = EnumSet.copyOf(Files.getPosixFilePermissions(directory));
            open.removeAll(EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE));
            if (!open.isEmpty()) {
                throw new TpmException("TPM state directory " + directory + " is open to other users (mode "
                        + PosixFilePermissions.toString(Files.getPosixFilePermissions(directory)) + "): chmod 700 " + directory);
            }
        } catch (IOException e) {
            throw new TpmException("cannot make TPM state directory " + directory + ": " + e.getMessage(), e);
        }
        if (Files.exists(directory.resolve(PERMANENT_STATE))) {
            return;
        }
        requireProgram("swtpm_setup", searchPath);
        try {
            Process setup = new ProcessBuilder("swtpm_setup", "--tpm2", "--tpmstate", directory.toAbsolutePath().toString(),
                    "--pcr-banks", "sha256")
                    .redirectErrorStream(true)
                    .start();
            byte[] output = setup.getInputStream().readAllBytes();
            if (!setup.waitFor(SETUP_SECONDS, TimeUnit.SECONDS)) {
                setup.destroyForcibly();
                throw new TpmException("swtpm_setup did not finish within " + SETUP_SECONDS + " s");
            }
            if (setup.exitValue() != 0) {
                String text = new String(output, java.nio.charset.StandardCharsets.UTF_8).strip();
                throw new TpmException("swtpm_setup failed for " + directory + ": "
                        + (text.isEmpty() ? "exit status " + setup.exitValue() : text.lines().reduce((a, b) -> b).orElse("")));
            }
        } catch (IOException e) {
            throw new TpmException("cannot run swtpm_setup: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TpmException("interrupted while manufacturing the TPM");
        }
    }

    /**
     * Connects to one of swtpm's sockets. The file appears when swtpm binds it, a moment before it listens, and a
     * connection in between is refused: that is retried until the deadline (a loaded host widens the moment).
     */
    private static SocketChannel connect(Path socket, Process process, Path log, long deadline) throws TpmException, IOException {
        while (true) {
            try {
                return SocketChannel.open(UnixDomainSocketAddress.of(socket));
            } catch (java.net.ConnectException refused) {
                awaitSocket(socket, process, log, deadline); // still alive, still in time
                if (System.currentTimeMillis() > deadline) {
                    throw new TpmException("swtpm did not accept on " + socket.getFileName() + " within " + START_MILLIS + " ms");
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new TpmException("interrupted while starting swtpm");
                }
            }
        }
    }

    private static Path awaitSocket(Path socket, Process process, Path log, long deadline) throws TpmException {
        while (!Files.exists(socket)) {
            if (!process.isAlive()) {
                throw new TpmException("swtpm exited with status " + process.exitValue() + lastLogLine(log));
            }
            if (System.currentTimeMillis() > deadline) {
                throw new TpmException("swtpm did not open " + socket.getFileName() + " within " + START_MILLIS + " ms");
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TpmException("interrupted while starting swtpm");
            }
        }
        return socket;
    }

    private static String lastLogLine(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return lines.isEmpty() ? "" : " (" + lines.getLast().strip() + ")";
        } catch (IOException e) {
            return "";
        }
    }

    /** A power-on: the TPM runs (volatile state cleared) and waits for TPM2_Startup, which the caller sends. */
    public void powerOn() throws TpmException {
        try {
            control.init();
        } catch (IOException e) {
            throw new TpmException("swtpm: " + e.getMessage() + lastLogLine(log), e);
        }
    }

    /**
     * Sends one TPM command and returns the response. Commands are serialised; a response larger than the
     * buffer or smaller than a header is an error (swtpm never sends one).
     */
    @Override
    public synchronized byte[] execute(byte[] command) throws IOException {
        data.write(ByteBuffer.wrap(command));
        ByteBuffer header = readData(TpmCodec.HEADER_BYTES);
        int size = header.getInt(2);
        if (size < TpmCodec.HEADER_BYTES || size > BUFFER_SIZE) {
            throw new IOException("swtpm answered with a response of " + Integer.toUnsignedString(size) + " bytes");
        }
        byte[] response = new byte[size];
        header.get(0, response, 0, TpmCodec.HEADER_BYTES);
        readData(size - TpmCodec.HEADER_BYTES).get(0, response, TpmCodec.HEADER_BYTES, size - TpmCodec.HEADER_BYTES);
        return response;
    }

    private ByteBuffer readData(int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (data.read(buffer) < 0) {
                throw new EOFException("swtpm closed its data channel" + lastLogLine(log));
            }
        }
        return buffer;
    }

    /** Asks the TPM to abandon the command in progress; the command then completes with TPM_RC_CANCELED. */
    public void cancel() throws IOException {
        try {
            control.cancel();
        } catch (TpmException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** The TPM's permanent and volatile state, for a snapshot: no command may be in flight. */
    public TpmState saveState() throws TpmException {
        try {
            return new TpmState(control.stateBlob(SwtpmControl.BLOB_PERMANENT), control.stateBlob(SwtpmControl.BLOB_VOLATILE));
        } catch (IOException e) {
            throw new TpmException("cannot read swtpm's state: " + e.getMessage(), e);
        }
    }

    /**
     * Puts a snapshot's TPM state into this freshly started (stopped) swtpm and runs it: PCRs, keys and
     * sessions are as they were, and no TPM2_Startup follows (the TPM never stopped, for the guest).
     */
    public void restoreState(TpmState state) throws TpmException {
        try {
            control.setStateBlob(SwtpmControl.BLOB_PERMANENT, state.permanent());
            control.setStateBlob(SwtpmControl.BLOB_VOLATILE, state.volatileState());
            control.init();
        } catch (IOException e) {
            throw new TpmException("cannot restore swtpm's state: " + e.getMessage(), e);
        }
    }

    /** swtpm's process id (tests check that it ends with the VM). */
    public long pid() {
        return process.pid();
    }

    /** Shuts swtpm down (it saves its state), or kills it when it does not answer; removes the sockets. */
    @Override
    public void close() {
        try {
            control.shutdown();
        } catch (IOException | TpmException e) {
            // It may be dead already; it is killed below either way.
        }
        closeQuietly(control, data);
        try {
            if (!process.waitFor(2, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        deleteTree(socketDirectory);
    }

    private static void closeQuietly(AutoCloseable... closeables) {
        for (AutoCloseable closeable : closeables) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception e) {
                // closing a socket that is gone
            }
        }
    }

    private static void deleteTree(Path directory) {
        try (Stream<Path> paths = Files.walk(directory)) {
            List<Path> all = new ArrayList<>(paths.sorted(Comparator.reverseOrder()).toList());
            for (Path path : all) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            // a temporary directory left behind is no failure
        }
    }
}
