package io.vmguard.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct stat as x86-64 Linux's fstat(2) fills it (arch/x86/include/uapi/asm/stat.h: 144 bytes). vmguard
 * reads st_blocks only: how much of a sparse file is data rather than holes.
 */
public final class StatLayout {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("st_dev"),
            JAVA_LONG.withName("st_ino"),
            JAVA_LONG.withName("st_nlink"),
            JAVA_INT.withName("st_mode"),
            JAVA_INT.withName("st_uid"),
            JAVA_INT.withName("st_gid"),
            JAVA_INT.withName("pad0"),
            JAVA_LONG.withName("st_rdev"),
            JAVA_LONG.withName("st_size"),
            JAVA_LONG.withName("st_blksize"),
            JAVA_LONG.withName("st_blocks"),
            MemoryLayout.sequenceLayout(6, JAVA_LONG).withName("times"),
            MemoryLayout.sequenceLayout(3, JAVA_LONG).withName("unused")).withName("stat");

    private static final long BLOCKS = LAYOUT.byteOffset(groupElement("st_blocks"));
    /** st_blocks counts 512-byte units whatever the file system's block size (stat(2)). */
    private static final long BLOCK_UNIT = 512;

    private StatLayout() {}

    /** The bytes the file has on disk: st_blocks in bytes. */
    static long allocatedBytes(MemorySegment stat) {
        return stat.get(JAVA_LONG, BLOCKS) * BLOCK_UNIT;
    }
}
