package io.vmguard.api;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Puts the API's socket at its path with mode 0600 and never any other: the server binds inside a fresh
 * directory of mode 0700 next to the path (so nobody else can connect while the socket still has the
 * umask's mode), the socket is chmod'ed to 0600, and then renamed onto the path. The rename is also how a
 * stale socket file is replaced, atomically. A path where a server answers is refused; so is a path that
 * holds anything but a socket (a regular file is never deleted).
 *
 * <p>Chmod'ing in place after the bind would leave a window in which a connection could be queued on a
 * socket with the umask's mode; the directory closes it. Two servers started at the same path at the same
 * instant may both find it free; the second rename wins and the first server's socket is unreachable.
 */
final class SocketFile {
    /** sun_path holds 108 bytes with the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;

    private final Path target;
    private final Path directory;
    private final Path bindPath;

    private SocketFile(Path target, Path directory, Path bindPath) {
        this.target = target;
        this.directory = directory;
        this.bindPath = bindPath;
    }

    /** Checks {@code target} and makes the private directory to bind in; {@link #publish()} after the bind. */
    static SocketFile prepare(Path target) throws IOException {
        target = target.toAbsolutePath();
        if (target.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new IOException("socket path " + target + " is longer than " + MAX_PATH_BYTES + " bytes");
        }
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            BasicFileAttributes attributes = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isOther()) {
                throw new IOException(target + " exists and is not a socket; not replacing it");
            }
            if (answers(target)) {
                throw new IOException("another server is listening on " + target);
            }
        }
        Path parent = target.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new IOException("directory " + parent + " does not exist");
        }
        Path directory = Files.createTempDirectory(parent, ".vmguard-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path bindPath = directory.resolve("s");
        if (bindPath.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            Files.delete(directory);
            throw new IOException("socket path " + target + " is too long to bind safely (keep it under "
                    + (MAX_PATH_BYTES - (bindPath.toString().length() - target.toString().length())) + " bytes)");
        }
        return new SocketFile(target, directory, bindPath);
    }

    /** Whether a server accepts connections at {@code path}. */
    static boolean answers(Path path) {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(path));
            return true;
        } catch (ConnectException e) {
            return false; // ECONNREFUSED: a socket file nobody listens on
        } catch (IOException e) {
            return false;
        }
    }

    Path bindPath() {
        return bindPath;
    }

    Path target() {
        return target;
    }

    /** Narrows the bound socket to 0600 and moves it onto the target path (replacing a stale socket). */
    void publish() throws IOException {
        Files.setPosixFilePermissions(bindPath, PosixFilePermissions.fromString("rw-------"));
        Files.move(bindPath, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Files.delete(directory);
    }

    /** Removes the private directory (and a socket still in it) if publishing did not happen. */
    void abandon() {
        try {
            Files.deleteIfExists(bindPath);
            Files.deleteIfExists(directory);
        } catch (IOException ignored) {
            // a leftover empty directory of ours; nothing else depends on it
        }
    }
}
