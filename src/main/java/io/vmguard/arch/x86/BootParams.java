package io.vmguard.arch.x86;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Builds Linux's {@code struct boot_params} (the "zero page") for the 64-bit boot protocol: the kernel's
 * own setup header when it has one, the loader fields vmguard fills in, and the e820 map.
 * Offsets are those of Documentation/arch/x86/boot.rst and zero-page.rst.
 */
public final class BootParams {
    public static final int SIZE = 4096;

    private static final int ACPI_RSDP_ADDR = 0x070;
    private static final int EXT_RAMDISK_IMAGE = 0x0c0;
    private static final int EXT_RAMDISK_SIZE = 0x0c4;
    private static final int EXT_CMD_LINE_PTR = 0x0c8;
    private static final int E820_ENTRIES = 0x1e8;
    private static final int BOOT_FLAG = 0x1fe;
    private static final int HEADER = 0x202;
    private static final int TYPE_OF_LOADER = 0x210;
    private static final int LOADFLAGS = 0x211;
    private static final int RAMDISK_IMAGE = 0x218;
    private static final int RAMDISK_SIZE = 0x21c;
    private static final int CMD_LINE_PTR = 0x228;
    private static final int KERNEL_ALIGNMENT = 0x230;
    private static final int CMDLINE_SIZE = 0x238;
    private static final int SETUP_DATA = 0x250;
    private static final int E820_TABLE = 0x2d0;
    private static final int E820_ENTRY_SIZE = 20;

    private static final int LOADED_HIGH = 0x01;
    private static final int CAN_USE_HEAP = 0x80;
    /** "Undefined" boot loader id: vmguard has no id assigned. */
    private static final int LOADER_UNDEFINED = 0xff;
    private static final int DEFAULT_KERNEL_ALIGNMENT = 0x100_0000;

    private final ByteBuffer page = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    /** Starts from the kernel's setup header (bzImage) or, for an ELF kernel, a minimal valid one. */
    public BootParams(byte[] setupHeader) {
        if (setupHeader != null) {
            page.put(BzImageKernel.SETUP_HEADER_OFFSET, setupHeader);
        } else {
            page.putShort(BOOT_FLAG, (short) 0xaa55);
            page.putInt(HEADER, 0x53726448);
            page.putInt(KERNEL_ALIGNMENT, DEFAULT_KERNEL_ALIGNMENT);
        }
        page.put(TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        page.put(LOADFLAGS, (byte) (page.get(LOADFLAGS) | LOADED_HIGH | CAN_USE_HEAP));
    }

    public BootParams commandLine(long address, int sizeWithoutNul) {
        page.putInt(CMD_LINE_PTR, (int) address);
        page.putInt(EXT_CMD_LINE_PTR, (int) (address >>> 32));
        page.putInt(CMDLINE_SIZE, sizeWithoutNul);
        return this;
    }

    public BootParams ramdisk(long address, long size) {
        page.putInt(RAMDISK_IMAGE, (int) address);
        page.putInt(EXT_RAMDISK_IMAGE, (int) (address >>> 32));
        page.putInt(RAMDISK_SIZE, (int) size);
        page.putInt(EXT_RAMDISK_SIZE, (int) (size >>> 32));
        return this;
    }

    /** Where the ACPI RSDP is (boot protocol 2.14; earlier kernels ignore it and scan 0xE0000-0xFFFFF). */
    public BootParams acpiRsdp(long address) {
        page.putLong(ACPI_RSDP_ADDR, address);
        return this;
    }

    /** The physical address of the first {@code struct setup_data} (boot protocol 2.09; a list linked by {@code next}). */
    public BootParams setupData(long address) {
        page.putLong(SETUP_DATA, address);
        return this;
    }

    public BootParams e820(List<E820Entry> entries) {
        if (entries.size() > E820Map.MAX_ENTRIES) {
            throw new IllegalArgumentException("too many e820 entries: " + entries.size());
        }
        page.put(E820_ENTRIES, (byte) entries.size());
        int offset = E820_TABLE;
        for (E820Entry entry : entries) {
            page.putLong(offset, entry.address());
            page.putLong(offset + 8, entry.size());
            page.putInt(offset + 16, entry.type().code());
            offset += E820_ENTRY_SIZE;
        }
        return this;
    }

    public byte[] toBytes() {
        return page.array().clone();
    }
}
