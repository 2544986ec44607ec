package io.vmguard.files;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A file that replaces its target only when complete: written under a hidden temporary name beside it
 * (same directory, so the rename is atomic), created 0600 from the start (snapshots and dumps hold guest
 * memory), then {@link #commit}: forced to disk, renamed over the target, and the directory synced so the
 * rename itself survives a crash. Until then the target is untouched; closing uncommitted removes the
 * temporary file. A crash before the rename leaves the old target and at worst a hidden temporary file.
 */
public final class StagedFile implements AutoCloseable {
    private final Path target;
    private final Path temporary;
    private final FileChannel channel;
    private boolean renamed;

    private StagedFile(Path target, Path temporary, FileChannel channel) {
        this.target = target;
        this.temporary = temporary;
        this.channel = channel;
    }

    /** A new, empty staged file for {@code target}, open for writing. */
    public static StagedFile beside(Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path temporary = Files.createTempFile(absolute.getParent(), "." + absolute.getFileName() + ".", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            return new StagedFile(absolute, temporary, FileChannel.open(temporary, StandardOpenOption.WRITE,
                    StandardOpenOption.READ));
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temporary);
            throw e;
        }
    }

    /** Where the bytes go until the commit (writers that open files by name write here). */
    public Path temporary() {
        return temporary;
    }

    public Path target() {
        return target;
    }

    /** The temporary file, open for reading and writing. */
    public FileChannel channel() {
        return channel;
    }

    /** Sets the length without writing, so trailing zeros stay a hole. */
    public void setLength(long length) throws IOException {
        try (RandomAccessFile sized = new RandomAccessFile(temporary.toFile(), "rw")) {
            sized.setLength(length);
        }
    }

    /** Forces the bytes to disk, renames the file over its target, and syncs the directory. */
    public void commit() throws IOException {
        commitTogether(this);
    }

    /**
     * Commits several files as one step as far as a file system allows: all forced first, then renamed in
     * the order given (a reader that checks the last one's content against the others, as a snapshot's
     * state file names its memory file's id, sees a mismatch rather than a mix), then each directory synced.
     */
    public static void commitTogether(StagedFile... files) throws IOException {
        for (StagedFile file : files) {
            file.channel.force(true);
        }
        Set<Path> directories = new LinkedHashSet<>();
        for (StagedFile file : files) {
            file.channel.close();
            try {
                Files.move(file.temporary, file.target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot rename " + file.temporary + " to " + file.target + " atomically");
            }
            file.renamed = true;
            directories.add(file.target.getParent());
        }
        for (Path directory : directories) {
            try (FileChannel handle = FileChannel.open(directory, StandardOpenOption.READ)) {
                handle.force(true);
            }
        }
    }

    /** Removes the temporary file unless it was renamed over the target. */
    @Override
    public void close() throws IOException {
        channel.close();
        if (!renamed) {
            Files.deleteIfExists(temporary);
        }
    }
}
