package io.vmguard.vmi;

/**
 * Guest-physical memory as introspection reads it. Reads outside guest RAM report failure instead of
 * throwing: a guest's page tables and kernel lists are guest-controlled and may point anywhere.
 */
public interface PhysicalMemory {
    /** Copies {@code length} bytes at {@code gpa} into {@code destination}; false (nothing copied) when any byte is not RAM. */
    boolean read(long gpa, byte[] destination, int offset, int length);

    /** One past the highest guest-physical RAM address. */
    long end();

    /** The RAM ranges, in address order (what a memory dump holds). */
    java.util.List<Range> ranges();

    record Range(long start, long size) {
        public long end() {
            return start + size;
        }
    }
}
