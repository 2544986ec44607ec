package io.vmguard.arch.x86.acpi;

/**
 * The resource descriptors (ACPI 6.5, 6.4) vmguard's {@code _CRS} objects use, each in the one form it is
 * used in. The address-space descriptors describe a host bridge's windows: produced (passed on to the
 * devices behind it), with fixed minimum and maximum, positively decoded, no translation.
 */
public sealed interface Resource {
    /** {@code IO (Decode16, min, max, alignment, length)}: ports a device decodes itself (small item 0x47). */
    record Io(int minimum, int maximum, int alignment, int length) implements Resource {
        public Io {
            requireRange("IO", minimum, maximum, 0xffff);
            if (alignment < 0 || alignment > 0xff || length < 0 || length > 0xff) {
                throw new IllegalArgumentException("IO alignment and length are bytes: " + alignment + ", " + length);
            }
        }
    }

    /** {@code WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...)}: the buses behind a host bridge. */
    record WordBusNumber(int minimum, int maximum) implements Resource {
        public WordBusNumber {
            requireRange("WordBusNumber", minimum, maximum, 0xff);
        }
    }

    /** {@code WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...)}: an I/O port window. */
    record WordIo(int minimum, int maximum) implements Resource {
        public WordIo {
            requireRange("WordIO", minimum, maximum, 0xffff);
            if (maximum - minimum + 1 > 0xffff) {
                throw new IllegalArgumentException("WordIO window of all 65536 ports has a length a word cannot hold; split it");
            }
        }
    }

    /**
     * {@code DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...)}:
     * a 32-bit memory window (for the BARs of the devices behind a bridge).
     */
    record DWordMemory(long minimum, long maximum) implements Resource {
        public DWordMemory {
            requireRange("DWordMemory", minimum, maximum, 0xffff_ffffL);
        }
    }

    /** {@code Memory32Fixed (ReadWrite, base, length)}: registers a device decodes itself. */
    record Memory32Fixed(long base, long length) implements Resource {
        public Memory32Fixed {
            if (length <= 0 || base < 0 || base + length > 0x1_0000_0000L) {
                throw new IllegalArgumentException(String.format("Memory32Fixed 0x%x+0x%x is not a range below 4 GiB", base, length));
            }
        }
    }

    enum Trigger { LEVEL, EDGE }

    enum Polarity { ACTIVE_HIGH, ACTIVE_LOW }

    /** {@code Interrupt (ResourceConsumer, trigger, polarity, Exclusive|Shared) { gsi }}: the extended interrupt descriptor. */
    record Interrupt(Trigger trigger, Polarity polarity, boolean shared, int gsi) implements Resource {
        public Interrupt {
            if (gsi < 0) {
                throw new IllegalArgumentException("interrupt number " + gsi + " is negative");
            }
        }
    }

    private static void requireRange(String what, long minimum, long maximum, long limit) {
        if (minimum < 0 || minimum > maximum || maximum > limit) {
            throw new IllegalArgumentException(String.format("%s range 0x%x-0x%x is empty or beyond 0x%x", what, minimum, maximum, limit));
        }
    }
}
