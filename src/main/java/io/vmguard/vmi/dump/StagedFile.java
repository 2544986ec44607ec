package io.vmguard.vmi.dump;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A file written under a temporary name beside its target and renamed over it only when complete, so a
 * reader never sees half a dump and a failed dump leaves the previous one in place. The file is created
 * 0600 from the start (not chmod-ed later): guest memory holds the guest's secrets.
 */
final class StagedFile implements DumpSink {
    private final Path target;
    private final Path temporary;
    private final FileChannel channel;
    private boolean committed;

    private StagedFile(Path target, Path temporary, FileChannel channel) {
        this.target = target;
        this.temporary = temporary;
        this.channel = channel;
    }

    static StagedFile beside(Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path directory = absolute.getParent();
        Path temporary = Files.createTempFile(directory, "." + absolute.getFileName() + ".", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            return new StagedFile(absolute, temporary, FileChannel.open(temporary, StandardOpenOption.WRITE));
        } catch (IOException e) {
            Files.deleteIfExists(temporary);
            throw e;
        }
    }

    @Override
    public void write(ByteBuffer bytes, long position) throws IOException {
        while (bytes.hasRemaining()) {
            position += channel.write(bytes, position);
        }
    }

    /** Sets the length without writing, so trailing pages of zeros stay a hole. */
    @Override
    public void extendTo(long length) throws IOException {
        try (RandomAccessFile sized = new RandomAccessFile(temporary.toFile(), "rw")) {
            sized.setLength(length);
        }
    }

    /** Forces the bytes to disk, renames the file over the target and makes the rename durable. */
    @Override
    public void commit() throws IOException {
        channel.force(true);
        channel.close();
        try {
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + temporary + " to " + target + " atomically");
        }
        committed = true;
        try (FileChannel directory = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
            directory.force(true);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
        if (!committed) {
            Files.deleteIfExists(temporary);
        }
    }
}
