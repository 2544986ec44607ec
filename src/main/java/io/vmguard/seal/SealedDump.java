package io.vmguard.seal;

import io.vmguard.files.StagedFile;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.BitSet;
import java.util.UUID;

/**
 * A sealed file of any content written front to back, for {@code vmi dump}'s ELF core files under
 * {@code --seal}: the plain bytes are cut into {@link #CHUNK}-byte chunks, each non-zero one encrypted
 * (AES-256-GCM, {@link ChunkCipher}) into its own slot and each all-zero one left a hole, so a sparse core
 * stays sparse; the plain length and which chunks exist come last, sealed, as they are known only then.
 * Plain bytes never touch the disk: one chunk is held in memory at a time.
 *
 * <pre>
 * u32 header length | header ({@link SealedHeader} "VMGSEALD": id, sealed key, layout: u32 chunk size) |
 * zero padding to a 4 KiB boundary | slot 0 | slot 1 | ... | trailer, sealed: u64 plain length, present-chunk
 * bitmap | u32 trailer length
 * </pre>
 */
public final class SealedDump {
    static final String MAGIC = "VMGSEALD";
    public static final int CHUNK = 64 * 1024;
    private static final int SLOT = CHUNK + ChunkCipher.TAG_BYTES;
    private static final int PAGE = 4096;
    private static final int MAX_HEADER_BYTES = 8192;
    private static final byte[] ZEROS = new byte[CHUNK];
    private static final byte[] LAYOUT = ByteBuffer.allocate(4).putInt(CHUNK).array();

    private SealedDump() {}

    /** A fresh data key for one dump and the owner's TPM's sealing of it (made before the guest is held for the dump). */
    public record Key(byte[] key, SealedKey sealed) {
        public static Key fresh(SealingTpm owner) throws SealException {
            byte[] key = new byte[SealingTpm.KEY_BYTES];
            new SecureRandom().nextBytes(key);
            return new Key(key, owner.seal(key));
        }
    }

    /** Whether {@code file} starts as a sealed dump. */
    public static boolean isSealed(Path file) {
        try (var in = Files.newInputStream(file)) {
            byte[] start = in.readNBytes(4 + SealedHeader.MAGIC_BYTES);
            return start.length == 4 + SealedHeader.MAGIC_BYTES && SealedHeader.startsWith(Arrays.copyOfRange(start, 4, start.length), MAGIC);
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Writes a sealed file under a temporary name (0600) beside its target; {@link #commit} renames it over the
     * target, and closing it uncommitted removes it. Writes must come front to back (a chunk once left is sealed).
     */
    public static final class Writer implements AutoCloseable {
        private final StagedFile file;
        private final FileChannel channel;
        private final SealedHeader header;
        private final ChunkCipher cipher;
        private final long dataStart;
        private final byte[] chunk = new byte[CHUNK];
        private final byte[] slot = new byte[SLOT];
        private final BitSet present = new BitSet();
        private long current = -1;
        private long length;

        private Writer(StagedFile file, Key key) {
            this.file = file;
            this.channel = file.channel();
            this.header = new SealedHeader(MAGIC, UUID.randomUUID(), key.sealed(), LAYOUT);
            this.cipher = new ChunkCipher(key.key(), header.digest());
            this.dataStart = roundUp(4 + header.bytes().length);
        }

        public static Writer create(Path target, Key key) throws IOException {
            StagedFile file = StagedFile.beside(target);
            try {
                return new Writer(file, key);
            } catch (RuntimeException e) {
                file.close();
                throw e;
            }
        }

        /** Puts {@code bytes} at plain offset {@code position}, which must not fall in a chunk before the one being filled. */
        public void write(ByteBuffer bytes, long position) throws IOException {
            long at = position;
            while (bytes.hasRemaining()) {
                long index = at / CHUNK;
                if (index != current) {
                    if (index < current) {
                        throw new IOException("a sealed file is written front to back: offset " + at + " comes after chunk " + current);
                    }
                    seal();
                    current = index;
                    Arrays.fill(chunk, (byte) 0);
                }
                int offset = (int) (at % CHUNK);
                int n = Math.min(bytes.remaining(), CHUNK - offset);
                bytes.get(chunk, offset, n);
                at += n;
                length = Math.max(length, at);
            }
        }

        public void extendTo(long plainLength) {
            length = Math.max(length, plainLength);
        }

        /** Seals the last chunk and the trailer, writes the header, and renames the file over its target. */
        public void commit() throws IOException {
            seal();
            long chunks = (length + CHUNK - 1) / CHUNK;
            if (chunks > Integer.MAX_VALUE) {
                throw new IOException("too large to seal: " + length + " bytes");
            }
            byte[] trailer = ByteBuffer.allocate(8 + (int) ((chunks + 7) / 8)).putLong(length)
                    .put(Arrays.copyOf(present.toByteArray(), (int) ((chunks + 7) / 8))).array();
            byte[] sealedTrailer = cipher.encrypt(ChunkCipher.INDEX_PRESENT, trailer);
            writeFully(ByteBuffer.allocate(sealedTrailer.length + 4).put(sealedTrailer).putInt(sealedTrailer.length).flip(),
                    dataStart + chunks * SLOT);
            byte[] headerBytes = header.bytes();
            writeFully(ByteBuffer.allocate(4 + headerBytes.length).putInt(headerBytes.length).put(headerBytes).flip(), 0);
            file.commit();
        }

        private void seal() throws IOException {
            if (current < 0 || Arrays.equals(chunk, ZEROS)) {
                return; // nothing, or a hole
            }
            if (current > Integer.MAX_VALUE) {
                throw new IOException("too large to seal");
            }
            cipher.encrypt(current, chunk, CHUNK, slot);
            writeFully(ByteBuffer.wrap(slot), dataStart + current * SLOT);
            present.set((int) current);
        }

        private void writeFully(ByteBuffer bytes, long position) throws IOException {
            long at = position;
            while (bytes.hasRemaining()) {
                at += channel.write(bytes, at);
            }
        }

        @Override
        public void close() throws IOException {
            Arrays.fill(chunk, (byte) 0);
            file.close();
        }
    }

    /**
     * Decrypts sealed file {@code in} into {@code out} (0600, holes kept, replacing it only when complete) with
     * the key {@code owner} unseals; returns the plain length. Another TPM, another authorisation value, a
     * changed PCR or any changed byte: one line, and {@code out} is not touched.
     */
    public static long unseal(Path in, Path out, SealingTpm owner) throws SealException {
        String what = "sealed dump " + in;
        try (FileChannel channel = FileChannel.open(in, StandardOpenOption.READ)) {
            ByteBuffer lengthField = ByteBuffer.allocate(4);
            SealedFileReads.readFully(channel, lengthField, 0, what);
            int headerLength = lengthField.getInt(0);
            if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
                throw new SealException(what + " has a header of " + Integer.toUnsignedString(headerLength) + " bytes");
            }
            ByteBuffer headerBuffer = ByteBuffer.allocate(headerLength);
            SealedFileReads.readFully(channel, headerBuffer, 4, what);
            SealedHeader header = SealedHeader.read(new DataInputStream(new ByteArrayInputStream(headerBuffer.array())), MAGIC, what);
            if (!Arrays.equals(header.layout(), LAYOUT)) {
                throw new SealException(what + " uses another chunk size than this vmguard");
            }
            byte[] key = owner.unseal(header.key());
            ChunkCipher cipher = new ChunkCipher(key, header.digest());
            long size = channel.size();
            ByteBuffer trailerLengthField = ByteBuffer.allocate(4);
            SealedFileReads.readFully(channel, trailerLengthField, size - 4, what);
            int trailerLength = trailerLengthField.getInt(0);
            long dataStart = roundUp(4 + headerLength);
            // Bounded by what the file's size allows (a bit per slot), so a lying length cannot make a huge allocation.
            long mostTrailer = 8 + ChunkCipher.TAG_BYTES + size / SLOT / 8 + 1;
            if (trailerLength < 8 + ChunkCipher.TAG_BYTES || trailerLength > mostTrailer || trailerLength > size - 4 - dataStart) {
                throw new SealException(what + " is cut short or modified (its trailer length is " + Integer.toUnsignedString(trailerLength) + ")");
            }
            ByteBuffer sealedTrailer = ByteBuffer.allocate(trailerLength);
            SealedFileReads.readFully(channel, sealedTrailer, size - 4 - trailerLength, what);
            byte[] trailer = cipher.decrypt(ChunkCipher.INDEX_PRESENT, sealedTrailer.array());
            if (trailer == null) {
                throw new SealException(what + " fails authentication (modified, cut short, or sealed with another key)");
            }
            long plainLength = ByteBuffer.wrap(trailer).getLong(0);
            long chunks = (plainLength + CHUNK - 1) / CHUNK;
            if (plainLength < 0 || trailer.length != 8 + (chunks + 7) / 8 || size - 4 - trailerLength != dataStart + chunks * SLOT) {
                throw new SealException(what + " does not add up: " + plainLength + " plain bytes in a file of " + size);
            }
            BitSet present = BitSet.valueOf(Arrays.copyOfRange(trailer, 8, trailer.length));
            decryptInto(channel, out, cipher, present, chunks, plainLength, dataStart, what);
            return plainLength;
        } catch (IOException e) {
            throw new SealException("cannot read " + what + ": " + e.getMessage(), e);
        }
    }

    private static void decryptInto(FileChannel channel, Path out, ChunkCipher cipher, BitSet present, long chunks, long plainLength,
                                    long dataStart, String what) throws IOException, SealException {
        try (StagedFile staged = StagedFile.beside(out)) {
            FileChannel plain = staged.channel();
            byte[] slot = new byte[SLOT];
            byte[] chunk = new byte[CHUNK];
            for (int index = present.nextSetBit(0); index >= 0; index = present.nextSetBit(index + 1)) {
                if (index >= chunks) {
                    throw new SealException(what + " names chunk " + index + " past its end");
                }
                SealedFileReads.readFully(channel, ByteBuffer.wrap(slot), dataStart + (long) index * SLOT, what);
                if (!cipher.decrypt(index, slot, CHUNK, chunk)) {
                    throw new SealException(what + " was modified: chunk " + index + " fails its authentication");
                }
                long at = (long) index * CHUNK;
                ByteBuffer bytes = ByteBuffer.wrap(chunk, 0, (int) Math.min(CHUNK, plainLength - at));
                while (bytes.hasRemaining()) {
                    at += plain.write(bytes, at);
                }
            }
            staged.setLength(plainLength); // trailing zeros stay a hole
            staged.commit();
        }
    }

    private static long roundUp(long offset) {
        return (offset + PAGE - 1) / PAGE * PAGE;
    }
}
