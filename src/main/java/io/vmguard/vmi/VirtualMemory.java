package io.vmguard.vmi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Guest-virtual memory as one address space (one CR3) sees it. Reads cross page boundaries; a byte that is
 * not mapped, or maps outside RAM, fails the read with a {@link VmiException} naming the address.
 *
 * <p>Translations are cached per 4 KiB page for the life of this object, so make one per introspection pass
 * (the guest is held still during a pass; across passes its page tables change). Not thread-safe.
 */
public final class VirtualMemory {
    /** The largest single read: bounds what a guest-chosen length can make the host allocate. */
    public static final int MAX_READ = 64 << 20;

    private static final long PAGE = 4096;
    private static final int CACHE_LIMIT = 1 << 16;

    private final PhysicalMemory physical;
    private final PageTableWalker walker;
    private final Map<Long, Optional<Translation>> pages = new HashMap<>();
    private final byte[] scratch = new byte[8];

    public VirtualMemory(PhysicalMemory physical, PageTableWalker walker) {
        this.physical = physical;
        this.walker = walker;
    }

    /** The address space a vCPU currently uses. */
    public static VirtualMemory forVcpu(PhysicalMemory physical, VcpuState vcpu) throws VmiException {
        return new VirtualMemory(physical, PageTableWalker.forVcpu(physical, vcpu));
    }

    /** The same guest memory through another top-level table (another process's page tables). */
    public VirtualMemory withRoot(long root) {
        return new VirtualMemory(physical, walker.withRoot(root));
    }

    public PhysicalMemory physical() {
        return physical;
    }

    public PageTableWalker walker() {
        return walker;
    }

    public Optional<Translation> translate(long virtualAddress) {
        long page = virtualAddress & ~(PAGE - 1);
        Optional<Translation> pageTranslation = pages.get(page);
        if (pageTranslation == null) {
            if (pages.size() >= CACHE_LIMIT) {
                pages.clear();
            }
            pageTranslation = walker.translate(page);
            pages.put(page, pageTranslation);
        }
        long offset = virtualAddress - page;
        return pageTranslation.map(t -> new Translation(virtualAddress, t.physicalAddress() + offset, t.pageSize(),
                t.writable(), t.user(), t.executable()));
    }

    public boolean isMapped(long virtualAddress) {
        return translate(virtualAddress).isPresent();
    }

    /** The guest-physical address of {@code virtualAddress}. */
    public long physicalAddress(long virtualAddress) throws VmiException {
        return translate(virtualAddress).orElseThrow(() -> VmiException.unmapped(virtualAddress)).physicalAddress();
    }

    public void read(long virtualAddress, byte[] destination, int offset, int length) throws VmiException {
        if (length < 0 || offset < 0 || offset > destination.length - length) {
            throw new IndexOutOfBoundsException("read of " + length + " bytes into " + destination.length + " at " + offset);
        }
        int done = 0;
        while (done < length) {
            long address = virtualAddress + done;
            Translation translation = translate(address).orElseThrow(() -> VmiException.unmapped(address));
            int piece = (int) Math.min(length - done, PAGE - (address & (PAGE - 1)));
            if (!physical.read(translation.physicalAddress(), destination, offset + done, piece)) {
                throw VmiException.notRam(translation.physicalAddress(), address);
            }
            done += piece;
        }
    }

    public byte[] readBytes(long virtualAddress, int length) throws VmiException {
        if (length < 0 || length > MAX_READ) {
            throw new VmiException(String.format("refusing to read %d bytes at %#x (limit %d)", length, virtualAddress,
                    MAX_READ), virtualAddress);
        }
        byte[] bytes = new byte[length];
        read(virtualAddress, bytes, 0, length);
        return bytes;
    }

    public long readLong(long virtualAddress) throws VmiException {
        read(virtualAddress, scratch, 0, 8);
        return PageTableWalker.littleEndianLong(scratch, 0);
    }

    public int readInt(long virtualAddress) throws VmiException {
        read(virtualAddress, scratch, 0, 4);
        return (scratch[0] & 0xff) | (scratch[1] & 0xff) << 8 | (scratch[2] & 0xff) << 16 | (scratch[3] & 0xff) << 24;
    }

    public int readUnsignedShort(long virtualAddress) throws VmiException {
        read(virtualAddress, scratch, 0, 2);
        return (scratch[0] & 0xff) | (scratch[1] & 0xff) << 8;
    }

    public int readUnsignedByte(long virtualAddress) throws VmiException {
        read(virtualAddress, scratch, 0, 1);
        return scratch[0] & 0xff;
    }

    /**
     * The NUL-terminated string at {@code virtualAddress}, at most {@code maxBytes} long (a longer one is cut
     * there). Reads page by page, so a short string just before an unmapped page reads fine. Bytes are
     * decoded as UTF-8 with replacement characters.
     */
    public String readCString(long virtualAddress, int maxBytes) throws VmiException {
        if (maxBytes < 0 || maxBytes > MAX_READ) {
            throw new VmiException("string bound " + maxBytes + " is out of range", virtualAddress);
        }
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        byte[] chunk = new byte[(int) PAGE];
        int done = 0;
        while (done < maxBytes) {
            long address = virtualAddress + done;
            int piece = (int) Math.min(maxBytes - done, PAGE - (address & (PAGE - 1)));
            read(address, chunk, 0, piece);
            for (int i = 0; i < piece; i++) {
                if (chunk[i] == 0) {
                    text.write(chunk, 0, i);
                    return text.toString(StandardCharsets.UTF_8);
                }
            }
            text.write(chunk, 0, piece);
            done += piece;
        }
        return text.toString(StandardCharsets.UTF_8);
    }
}
