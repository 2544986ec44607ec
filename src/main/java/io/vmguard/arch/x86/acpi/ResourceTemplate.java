package io.vmguard.arch.x86.acpi;

import java.util.List;

/**
 * {@code ResourceTemplate () { descriptors }}: a Buffer holding resource descriptors and the End Tag
 * (ACPI 6.5, 6.4). The End Tag's checksum makes all the template's bytes sum to zero; the spec also
 * allows 0 ("treat as correct"), which is what iasl writes, but a real checksum costs nothing.
 */
public record ResourceTemplate(List<Resource> descriptors) implements Aml.Data {
    private static final int IO = 0x47, END_TAG = 0x79;
    private static final int DWORD_ADDRESS = 0x87, WORD_ADDRESS = 0x88, MEMORY32_FIXED = 0x86, EXTENDED_INTERRUPT = 0x89;
    private static final int MEMORY_SPACE = 0, IO_SPACE = 1, BUS_NUMBER_SPACE = 2;
    /** General flags of a window: producer (bit 0 clear), positive decode (bit 1 clear), MinFixed (bit 2), MaxFixed (bit 3). */
    private static final int PRODUCER_FIXED_WINDOW = 0x0c;
    /** I/O window flags: _RNG = 3, both ISA and non-ISA ranges (EntireRange). */
    private static final int IO_ENTIRE_RANGE = 0x03;
    /** Memory window flags: read-write (bit 0), non-cacheable (_MEM = 0), AddressRangeMemory. */
    private static final int MEMORY_READ_WRITE = 0x01;
    private static final int IO_DECODE_16 = 0x01;
    private static final int INTERRUPT_CONSUMER = 0x01, INTERRUPT_EDGE = 0x02, INTERRUPT_ACTIVE_LOW = 0x04, INTERRUPT_SHARED = 0x08;

    public ResourceTemplate {
        descriptors = List.copyOf(descriptors);
    }

    public static ResourceTemplate of(Resource... descriptors) {
        return new ResourceTemplate(List.of(descriptors));
    }

    /** The buffer's contents: the descriptors and the End Tag. */
    byte[] descriptorBytes() {
        ByteWriter out = new ByteWriter();
        for (Resource descriptor : descriptors) {
            write(descriptor, out);
        }
        out.u8(END_TAG).u8(0);
        byte[] bytes = out.toArray();
        bytes[bytes.length - 1] = Checksum.of(bytes, 0, bytes.length);
        return bytes;
    }

    private static void write(Resource descriptor, ByteWriter out) {
        switch (descriptor) {
            case Resource.Io(int min, int max, int alignment, int length) ->
                    out.u8(IO).u8(IO_DECODE_16).u16(min).u16(max).u8(alignment).u8(length);
            case Resource.WordBusNumber(int min, int max) -> wordAddress(out, BUS_NUMBER_SPACE, 0, min, max);
            case Resource.WordIo(int min, int max) -> wordAddress(out, IO_SPACE, IO_ENTIRE_RANGE, min, max);
            case Resource.DWordMemory(long min, long max) -> out.u8(DWORD_ADDRESS).u16(23)
                    .u8(MEMORY_SPACE).u8(PRODUCER_FIXED_WINDOW).u8(MEMORY_READ_WRITE)
                    .u32(0).u32(min).u32(max).u32(0).u32(max - min + 1);
            case Resource.Memory32Fixed(long base, long length) ->
                    out.u8(MEMORY32_FIXED).u16(9).u8(MEMORY_READ_WRITE).u32(base).u32(length);
            case Resource.Interrupt(var trigger, var polarity, boolean shared, int gsi) -> out.u8(EXTENDED_INTERRUPT).u16(6)
                    .u8(INTERRUPT_CONSUMER
                            | (trigger == Resource.Trigger.EDGE ? INTERRUPT_EDGE : 0)
                            | (polarity == Resource.Polarity.ACTIVE_LOW ? INTERRUPT_ACTIVE_LOW : 0)
                            | (shared ? INTERRUPT_SHARED : 0))
                    .u8(1).u32(gsi);
        }
    }

    /** A word address-space descriptor of a window: granularity 0, no translation, length max - min + 1. */
    private static void wordAddress(ByteWriter out, int space, int typeFlags, int min, int max) {
        out.u8(WORD_ADDRESS).u16(13).u8(space).u8(PRODUCER_FIXED_WINDOW).u8(typeFlags)
                .u16(0).u16(min).u16(max).u16(0).u16(max - min + 1);
    }
}
