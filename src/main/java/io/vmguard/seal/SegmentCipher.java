package io.vmguard.seal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * AES-256-GCM of sealed chunks between native segments (guest RAM and a slot buffer): libcrypto's when it is
 * there ({@link OpenSslGcm}, no copy through the heap), else JCA's through two heap buffers. One per thread.
 */
sealed interface SegmentCipher extends AutoCloseable permits SegmentCipher.Jca, SegmentCipher.OpenSsl {
    /** Encrypts {@code length} bytes of {@code plain} as piece {@code index} into {@code sealed}: length bytes, then the tag. */
    void encrypt(long index, MemorySegment plain, int length, MemorySegment sealed);

    /** Decrypts piece {@code index} ({@code length} bytes and the tag in {@code sealed}) into {@code plain}; false if it fails its tag. */
    boolean decrypt(long index, MemorySegment sealed, int length, MemorySegment plain);

    @Override
    void close();

    /** libcrypto's AES-GCM where it loads, else JCA's. */
    static SegmentCipher open(byte[] key, byte[] headerDigest) {
        return OpenSslGcm.open(key, headerDigest).<SegmentCipher>map(OpenSsl::new)
                .orElseGet(() -> new Jca(new ChunkCipher(key, headerDigest)));
    }

    record OpenSsl(OpenSslGcm gcm) implements SegmentCipher {
        @Override
        public void encrypt(long index, MemorySegment plain, int length, MemorySegment sealed) {
            gcm.encrypt(index, plain, length, sealed);
        }

        @Override
        public boolean decrypt(long index, MemorySegment sealed, int length, MemorySegment plain) {
            return gcm.decrypt(index, sealed, length, plain);
        }

        @Override
        public void close() {
            gcm.close();
        }
    }

    /** JCA's intrinsics work on heap arrays: the chunk passes through two of them, wiped when done. */
    record Jca(ChunkCipher cipher, byte[] plainBuffer, byte[] sealedBuffer) implements SegmentCipher {
        Jca(ChunkCipher cipher) {
            this(cipher, new byte[SealedMemoryImage.CHUNK], new byte[SealedMemoryImage.SLOT]);
        }

        @Override
        public void encrypt(long index, MemorySegment plain, int length, MemorySegment sealed) {
            MemorySegment.copy(plain, ValueLayout.JAVA_BYTE, 0, plainBuffer, 0, length);
            cipher.encrypt(index, plainBuffer, length, sealedBuffer);
            MemorySegment.copy(sealedBuffer, 0, sealed, ValueLayout.JAVA_BYTE, 0, length + ChunkCipher.TAG_BYTES);
        }

        @Override
        public boolean decrypt(long index, MemorySegment sealed, int length, MemorySegment plain) {
            MemorySegment.copy(sealed, ValueLayout.JAVA_BYTE, 0, sealedBuffer, 0, length + ChunkCipher.TAG_BYTES);
            if (!cipher.decrypt(index, sealedBuffer, length, plainBuffer)) {
                return false;
            }
            MemorySegment.copy(plainBuffer, 0, plain, ValueLayout.JAVA_BYTE, 0, length);
            return true;
        }

        @Override
        public void close() {
            Arrays.fill(plainBuffer, (byte) 0);
        }
    }
}
