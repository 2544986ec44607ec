package io.vmguard.vmi;

/**
 * Where one guest-virtual address lands and with which rights, as the paging structures say: the
 * permission bits combine every level (writable and user only if every level allows it, executable unless
 * any level sets NX).
 */
public record Translation(long virtualAddress, long physicalAddress, PageSize pageSize,
                          boolean writable, boolean user, boolean executable) {

    /** The guest-physical address of the first byte of the page. */
    public long frame() {
        return physicalAddress - pageSize.offset(physicalAddress);
    }

    /** Bytes from this address to the end of its page. */
    public long bytesToPageEnd() {
        return pageSize.bytes() - pageSize.offset(virtualAddress);
    }
}
