package io.vmguard.tpm;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A TPM character device opened by vmguard, such as the host's {@code /dev/tpmrm0} (the kernel's resource
 * manager): one write() carries one whole command, one read() returns one whole response. The kernel owns
 * the TPM's power cycle (TPM2_Startup at boot, TPM2_Shutdown at power-off), so nothing here sends either; and
 * it flushes the transient objects and sessions an open made when that descriptor closes, so a device is
 * opened for one use and closed after it, keeping nothing between uses.
 *
 * <p>How long a command may take is bounded by the kernel (the TPM's own timeouts, two minutes at most):
 * a TPM that stops answering fails the read(), it does not hang it.
 */
public final class TpmDevice implements TpmChannel, AutoCloseable {
    /** The kernel's TPM_BUFSIZE: no command or response on a TPM device is larger. */
    public static final int BUFFER_SIZE = 4096;
    private static final int S_IFMT = 0170000;
    private static final int S_IFCHR = 0020000;

    private final int fd;
    private final String name;
    private boolean closed;

    private TpmDevice(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /**
     * Opens the TPM character device at {@code path}. Anything else (a regular file, a directory, a socket)
     * is refused: a command written to a file would be stored there, not executed.
     */
    public static TpmDevice open(Path path) throws TpmException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode"); // a link to the device is followed, as open() does
        } catch (java.nio.file.NoSuchFileException e) {
            throw new TpmException("there is no TPM device at " + path + " (no host TPM, or no tpm_tis/tpm_crb driver bound)");
        } catch (IOException | UnsupportedOperationException e) {
            throw new TpmException("cannot reach the TPM device " + path + ": " + e.getMessage(), e);
        }
        if ((mode & S_IFMT) != S_IFCHR) {
            throw new TpmException(path + " is not a character device, so not a TPM (the host's is /dev/tpmrm0)");
        }
        try {
            return new TpmDevice(Libc.open(path.toString(), Libc.O_RDWR | Libc.O_CLOEXEC), path.toString());
        } catch (NativeException e) {
            throw new TpmException("cannot open the TPM device: " + e.getMessage()
                    + (e.errno() == Libc.EACCES ? " (vmguard's user needs the tss group, or root)" : ""), e);
        }
    }

    /**
     * A TPM device on a descriptor vmguard already holds (a copy of it is taken, which {@link #close} closes):
     * how tests reach a swtpm in character-device mode over one end of a SOCK_SEQPACKET socket pair, which
     * keeps message boundaries exactly as a TPM device does.
     */
    public static TpmDevice onDescriptor(int fd, String name) throws TpmException {
        try {
            return new TpmDevice(Libc.dup(fd), name);
        } catch (NativeException e) {
            throw new TpmException("cannot reach the TPM device " + name + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code command} in one write() and reads the response in one read(); serialised per device. */
    @Override
    public synchronized byte[] execute(byte[] command) throws IOException {
        if (closed) {
            throw new IOException("the TPM device " + name + " is closed");
        }
        if (command.length < TpmCodec.HEADER_BYTES || command.length > BUFFER_SIZE) {
            throw new IOException("a TPM command of " + command.length + " bytes does not fit the device");
        }
        try (Arena arena = Arena.ofConfined()) {
            Libc.CallState state = new Libc.CallState(arena);
            MemorySegment out = arena.allocate(command.length);
            MemorySegment.copy(command, 0, out, ValueLayout.JAVA_BYTE, 0, command.length);
            long written;
            do {
                written = Libc.write(fd, out, state);
            } while (written == -Libc.EINTR);
            if (written != command.length) {
                throw new IOException("the TPM device " + name + " took " + describe(written) + " of a " + command.length
                        + "-byte command");
            }
            MemorySegment in = arena.allocate(BUFFER_SIZE);
            long read;
            do {
                read = Libc.read(fd, in, state);
            } while (read == -Libc.EINTR);
            if (read < 0) {
                throw new IOException("the TPM device " + name + " failed the command: " + Libc.strerror((int) -read));
            }
            if (read == 0) {
                throw new IOException("the TPM device " + name + " answered nothing (its end closed)");
            }
            byte[] response = in.asSlice(0, read).toArray(ValueLayout.JAVA_BYTE);
            int size = read < TpmCodec.HEADER_BYTES ? -1 : java.nio.ByteBuffer.wrap(response).getInt(2);
            if (size != read) {
                throw new IOException("the TPM device " + name + " answered " + read + " bytes that are not one response");
            }
            return response;
        }
    }

    private static String describe(long result) {
        return result < 0 ? "none (" + Libc.strerror((int) -result) + ")" : result + " bytes";
    }

    /** Closes the descriptor: the kernel flushes whatever this open left loaded in the TPM. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }
}
