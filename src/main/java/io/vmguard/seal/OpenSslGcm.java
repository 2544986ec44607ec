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
 * AES-256-GCM of sealed chunks through OpenSSL's libcrypto (Debian's libssl3), straight between native
 * memory (guest RAM, a mapped file, a slot buffer) with no copy through the Java heap. The post-copy helper
 * ({@link PostCopyServer}) decrypts with it because it is a fresh JVM whose JCA AES-GCM runs slowly until C2
 * has compiled it; a sealed save encrypts with it and an up-front restore decrypts with it because
 * libcrypto's AES-NI/VAES code runs several times faster than JCA's on the same core and needs no heap copy.
 * Same IV and AAD as {@link ChunkCipher}; callers fall back to JCA where libcrypto is missing. One instance
 * per thread (an EVP context is not shared).
 */
final class OpenSslGcm implements AutoCloseable {
    private static final int EVP_CTRL_GCM_GET_TAG = 0x10;
    private static final int EVP_CTRL_GCM_SET_TAG = 0x11;
    private static final int ENCRYPT = 1;
    private static final int DECRYPT = 0;
    private static final Handles HANDLES = Handles.load().orElse(null);

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment context;
    private final byte[] headerDigest;
    private final MemorySegment iv = arena.allocate(12);
    private final MemorySegment aad = arena.allocate(64);
    private final MemorySegment tag = arena.allocate(ChunkCipher.TAG_BYTES);
    private final MemorySegment outLength = arena.allocate(ValueLayout.JAVA_INT);

    /** libcrypto's functions, bound once; absent where libcrypto.so.3 cannot be loaded. */
    private record Handles(MethodHandle newContext, MethodHandle freeContext, MethodHandle aes256Gcm, MethodHandle init,
                           MethodHandle update, MethodHandle ctrl, MethodHandle end) {
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
                        linker.downcallHandle(crypto.findOrThrow("EVP_CipherInit_ex"),
                                FunctionDescriptor.of(integer, address, address, address, address, address, integer)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_CipherUpdate"),
                                FunctionDescriptor.of(integer, address, address, address, address, integer)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_CIPHER_CTX_ctrl"),
                                FunctionDescriptor.of(integer, address, integer, integer, address)),
                        linker.downcallHandle(crypto.findOrThrow("EVP_CipherFinal_ex"),
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
            if ((int) HANDLES.init().invokeExact(context, cipher, MemorySegment.NULL, keySegment, MemorySegment.NULL, DECRYPT) != 1) {
                throw new IllegalStateException("EVP_CipherInit_ex failed");
            }
        } finally {
            keySegment.fill((byte) 0);
        }
    }

    /** Whether libcrypto could be loaded here. */
    static boolean available() {
        return HANDLES != null;
    }

    /**
     * A cipher for {@code key} and a file's header digest, or empty where libcrypto is not there (or the system
     * property {@code vmguard.seal.jca} is true: bench-seal measures JCA's AES-GCM against libcrypto's that way).
     */
    static Optional<OpenSslGcm> open(byte[] key, byte[] headerDigest) {
        if (HANDLES == null || Boolean.getBoolean("vmguard.seal.jca")) {
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
            MemorySegment.copy(sealed, length, tag, 0, ChunkCipher.TAG_BYTES);
            boolean ok = start(index, length, DECRYPT)
                    && (int) HANDLES.update().invokeExact(context, plain, outLength, sealed, length) == 1
                    && (int) HANDLES.ctrl().invokeExact(context, EVP_CTRL_GCM_SET_TAG, ChunkCipher.TAG_BYTES, tag) == 1
                    && (int) HANDLES.end().invokeExact(context, plain.asSlice(length), outLength) > 0;
            if (!ok) {
                plain.asSlice(0, length).fill((byte) 0);
            }
            return ok;
        } catch (Throwable t) {
            throw new IllegalStateException("libcrypto AES-GCM failed", t);
        }
    }

    /** Encrypts {@code length} bytes of {@code plain} as piece {@code index} into {@code sealed}: length bytes, then the tag. */
    void encrypt(long index, MemorySegment plain, int length, MemorySegment sealed) {
        try {
            boolean ok = start(index, length, ENCRYPT)
                    && (int) HANDLES.update().invokeExact(context, sealed, outLength, plain, length) == 1
                    && (int) HANDLES.end().invokeExact(context, sealed.asSlice(length), outLength) == 1
                    && (int) HANDLES.ctrl().invokeExact(context, EVP_CTRL_GCM_GET_TAG, ChunkCipher.TAG_BYTES,
                            sealed.asSlice(length, ChunkCipher.TAG_BYTES)) == 1;
            if (!ok) {
                throw new IllegalStateException("libcrypto AES-GCM encryption failed");
            }
        } catch (IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("libcrypto AES-GCM failed", t);
        }
    }

    /** Sets piece {@code index}'s IV and feeds its AAD. */
    private boolean start(long index, int length, int mode) throws Throwable {
        MemorySegment.copy(ChunkCipher.iv(index), 0, iv, ValueLayout.JAVA_BYTE, 0, 12);
        byte[] additional = ChunkCipher.aad(headerDigest, index, length);
        MemorySegment.copy(additional, 0, aad, ValueLayout.JAVA_BYTE, 0, additional.length);
        return (int) HANDLES.init().invokeExact(context, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL, iv, mode) == 1
                && (int) HANDLES.update().invokeExact(context, MemorySegment.NULL, outLength, aad, additional.length) == 1;
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
