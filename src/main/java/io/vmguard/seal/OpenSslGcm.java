package io.vmguard.seal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * AES-256-GCM decryption of sealed chunks through OpenSSL's libcrypto (Debian's libssl3), for the
 * post-copy helper ({@link PostCopyServer}) only. The helper is a fresh JVM whose JCA AES-GCM runs slowly
 * until C2 has compiled it (seconds on a loaded host, while the guest waits on its faults); libcrypto
 * runs at full AES-NI/VAES speed from the first chunk. Same IV and AAD as {@link ChunkCipher}; the helper
 * falls back to JCA where libcrypto is missing. One instance per thread (an EVP context is not shared).
 */
final class OpenSslGcm implements AutoCloseable {
    private static final int EVP_CTRL_GCM_SET_TAG = 0x11;
    private static final Handles HANDLES = Handles.load().orElse(null);

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment context;
    private final byte[] headerDigest;
    private final MemorySegment iv = arena.allocate(12);
    private final MemorySegment aad = arena.allocate(64);
    private final MemorySegment tag = arena.allocate(ChunkCipher.TAG_BYTES);
    private final MemorySegment outLength = arena.allocate(ValueLayout.JAVA_INT);

    /** libcrypto's functions, bound once; absent where libcrypto.so.3 cannot be loaded. */
    private record Handles(MethodHandle newContext, MethodHandle freeContext, MethodHandle aes256Gcm, MethodHandle decryptInit,
                           MethodHandle decryptUpdate, MethodHandle ctrl, MethodHandle decryptFinal) {
        static Optional<Handles> load() {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup crypto = SymbolLookup.libraryLookup("libcrypto.so.3", Arena.global());
                var address = ValueLayout.ADDRESS;
                var integer = ValueLayout.JAVA_INT;
                return Optional.of(new Handles(
                        linker.downcallHandle(crypto.findOrThrow("EVP_CIPHER_CTX_new"), FunctionDescriptor.of(address)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_CIPHER_CTX_free"), FunctionDescriptor.ofVoid(address)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_aes_256_gcm"), FunctionDescriptor.of(address)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_DecryptInit_ex"),
                                FunctionDescriptor.of(integer, address, address, address, address, address)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_DecryptUpdate"),
                                FunctionDescriptor.of(integer, address, address, address, address, integer)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_CIPHER_CTX_ctrl"),
                                FunctionDescriptor.of(integer, address, integer, integer, address)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_DecryptFinal_ex"),
                                FunctionDescriptor.of(integer, address, address, address))));
            } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
                return Optional.empty();
            }
        }
    }

    private OpenSslGcm(byte[] key, byte[] headerDigest) throws Throwable {
        this.headerDigest = headerDigest.clone();
        this.context = (MemorySegment) HANDLES.newContext().invokeExact();
        if (context.equals(MemorySegment.NULL)) {
            throw new IllegalStateException("EVP_CIPHER_CTX_new failed");
        }
        MemorySegment keySegment = arena.allocateFrom(ValueLayout.JAVA_BYTE, key);
        try {
            MemorySegment cipher = (MemorySegment) HANDLES.aes256Gcm().invokeExact();
            if ((int) HANDLES.decryptInit().invokeExact(context, cipher, MemorySegment.NULL, keySegment, MemorySegment.NULL) != 1) {
                throw new IllegalStateException("EVP_DecryptInit_ex failed");
            }
        } finally {
            keySegment.fill((byte) 0);
        }
    }

    /** A decryptor for {@code key} and a file's header digest, or empty where libcrypto is not there. */
    static Optional<OpenSslGcm> open(byte[] key, byte[] headerDigest) {
        if (HANDLES == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new OpenSslGcm(key, headerDigest));
        } catch (Throwable t) {
            return Optional.empty();
        }
    }

    /**
     * Decrypts piece {@code index}: {@code sealed} holds its {@code length} encrypted bytes and the tag,
     * {@code plain} receives {@code length} bytes. False when it fails its tag; then {@code plain} is zeroed.
     */
    boolean decrypt(long index, MemorySegment sealed, int length, MemorySegment plain) {
        try {
            MemorySegment.copy(ChunkCipher.iv(index), 0, iv, ValueLayout.JAVA_BYTE, 0, 12);
            byte[] additional = ChunkCipher.aad(headerDigest, index, length);
            MemorySegment.copy(additional, 0, aad, ValueLayout.JAVA_BYTE, 0, additional.length);
            MemorySegment.copy(sealed, length, tag, 0, ChunkCipher.TAG_BYTES);
            boolean ok = (int) HANDLES.decryptInit().invokeExact(context, MemorySegment.NULL, MemorySegment.NULL,
                    MemorySegment.NULL, iv) == 1
                    && (int) HANDLES.decryptUpdate().invokeExact(context, MemorySegment.NULL, outLength, aad, additional.length) == 1
                    && (int) HANDLES.decryptUpdate().invokeExact(context, plain, outLength, sealed, length) == 1
                    && (int) HANDLES.ctrl().invokeExact(context, EVP_CTRL_GCM_SET_TAG, ChunkCipher.TAG_BYTES, tag) == 1
                    && (int) HANDLES.decryptFinal().invokeExact(context, plain.asSlice(length), outLength) > 0;
            if (!ok) {
                plain.asSlice(0, length).fill((byte) 0);
            }
            return ok;
        } catch (Throwable t) {
            throw new IllegalStateException("libcrypto AES-GCM failed", t);
        }
    }

    @Override
    public void close() {
        try {
            HANDLES.freeContext().invokeExact(context);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        arena.close();
    }
}
