package io.vmguard.net;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Objects;

/**
 * The file an AF_UNIX socket is bound to. Binding fails while the file exists, and a VM that died leaves
 * its file behind; so before binding, a socket file nobody listens on is removed, while a live one (another
 * VM running) or anything that is not a socket is left alone and reported.
 */
final class SocketFile {
    static final int S_IFMT = 0170000;
    static final int S_IFSOCK = 0140000;

    private SocketFile() {}

    /** Makes {@code path} free to bind: absent, or a stale socket file that is then removed. */
    static void clearStale(Path path) throws NetException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw new NetException("cannot inspect " + path + ": " + reason(e));
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new NetException(path + " exists and is not a socket; refusing to replace it");
        }
        if (inUse(path)) {
            throw new NetException(path + " is in use by a running program (another VM?)");
        }
        try {
            Files.delete(path);
        } catch (NoSuchFileException e) {
            // Removed meanwhile by someone else: free all the same.
        } catch (IOException e) {
            throw new NetException("cannot remove stale socket " + path + ": " + reason(e));
        }
    }

    /**
     * Whether a socket is bound at {@code path}: connecting a datagram socket to it is refused when none is.
     * A stream socket bound there answers with EPROTOTYPE, which also means it is taken.
     */
    private static boolean inUse(Path path) throws NetException {
        int probe;
        try {
            probe = Libc.socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        } catch (NativeException e) {
            throw new NetException("cannot check whether " + path + " is in use: " + e.getMessage());
        }
        try (Arena arena = Arena.ofConfined()) {
            Libc.connect(probe, SockaddrUnLayout.allocate(arena, path));
            return true;
        } catch (NativeException e) {
            return switch (e.errno()) {
                case Libc.ECONNREFUSED -> false;
                case Libc.EPROTOTYPE -> true;
                default -> throw new NetException("cannot check whether " + path + " is in use: " + Libc.strerror(e.errno()));
            };
        } finally {
            Libc.close(probe);
        }
    }

    /**
     * The identity of the socket file just bound at {@code path}, to recognise it later: device and inode, and
     * the modification time, since a file system may give a new file the inode number of a deleted one (a
     * socket file's time is that of its bind: datagrams do not touch it).
     */
    static Object identityOfNew(Path path) throws NetException {
        try {
            return currentIdentity(path);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(path);  // we have just bound it, so it is ours, but could not recognise it later
            } catch (IOException ignored) {
                // The failure reported below is the one that matters.
            }
            throw new NetException("cannot inspect " + path + " after binding it: " + reason(e));
        }
    }

    /**
     * Removes {@code path} if it is still the file with {@code identity}: if someone replaced it meanwhile, it
     * is theirs. Failure is ignored: the next VM to bind the path removes a stale file itself.
     */
    static void removeIfOurs(Path path, Object identity) {
        try {
            if (identity.equals(currentIdentity(path))) {
                Files.delete(path);
            }
        } catch (IOException e) {
            // Gone already, or not ours to remove.
        }
    }

    private static Object currentIdentity(Path path) throws IOException {
        BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        return List.of(Objects.requireNonNull(attributes.fileKey(), "file key"), attributes.lastModifiedTime());
    }

    private static String reason(IOException e) {
        return e instanceof AccessDeniedException ? "permission denied" : e.getClass().getSimpleName() + " " + e.getMessage();
    }
}
