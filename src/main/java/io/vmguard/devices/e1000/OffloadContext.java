package io.vmguard.devices.e1000;

/**
 * A transmit context descriptor (8254x manual 3.3.6): where the IP and TCP/UDP checksums start, sit and
 * end, and for TCP segmentation the MSS, header length and payload length. Offsets count from the frame's
 * first byte; an end of 0 means "to the end of the frame".
 *
 * @param tcp  TUCMD.TCP: the L4 header is TCP (else UDP)
 * @param ipv4 TUCMD.IP: the L3 header is IPv4 (else IPv6)
 * @param tse  TUCMD.TSE: a segmentation context (kept apart from the plain checksum context)
 */
record OffloadContext(int ipcss, int ipcso, int ipcse, int tucss, int tucso, int tucse, int payloadLength,
                      boolean tcp, boolean ipv4, boolean tse, int headerLength, int mss) {
    static final OffloadContext NONE = new OffloadContext(0, 0, 0, 0, 0, 0, 0, false, false, false, 0, 0);

    static final int TUCMD_TCP = 1, TUCMD_IP = 1 << 1, TUCMD_TSE = 1 << 2;

    /** Decodes the descriptor's two little-endian quadwords. */
    static OffloadContext decode(long low, long high) {
        int lower = (int) high;
        int upper = (int) (high >>> 32);
        int tucmd = lower >>> 24;
        return new OffloadContext((int) low & 0xff, (int) (low >>> 8) & 0xff, (int) (low >>> 16) & 0xffff,
                (int) (low >>> 32) & 0xff, (int) (low >>> 40) & 0xff, (int) (low >>> 48) & 0xffff, lower & 0xfffff,
                (tucmd & TUCMD_TCP) != 0, (tucmd & TUCMD_IP) != 0, (tucmd & TUCMD_TSE) != 0, upper >>> 8 & 0xff,
                upper >>> 16 & 0xffff);
    }

    /** The context as snapshot ints. */
    int[] toInts() {
        return new int[] {ipcss, ipcso, ipcse, tucss, tucso, tucse, payloadLength, tcp ? 1 : 0, ipv4 ? 1 : 0, tse ? 1 : 0,
                headerLength, mss};
    }

    static OffloadContext fromInts(int[] v) {
        return new OffloadContext(v[0] & 0xff, v[1] & 0xff, v[2] & 0xffff, v[3] & 0xff, v[4] & 0xff, v[5] & 0xffff,
                v[6] & 0xfffff, v[7] != 0, v[8] != 0, v[9] != 0, v[10] & 0xff, v[11] & 0xffff);
    }
}
