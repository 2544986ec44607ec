package io.vmguard.devices.e1000;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Which frames the receiver takes (8254x manual 3.2.3, and QEMU's {@code receive_filter}): unicast to an
 * enabled receive address (RAL/RAH with AV) or any unicast under RCTL.UPE; broadcast under RCTL.BAM;
 * multicast under RCTL.MPE or when its hash (12 bits of the last two address bytes, chosen by RCTL.MO)
 * is set in the multicast table.
 */
final class ReceiveFilter {
    private static final int[] MTA_SHIFT = {4, 3, 2, 0};

    private ReceiveFilter() {}

    /** @param registers the device's register file, indexed by offset / 4 */
    static boolean accepts(MemorySegment frame, int rctl, int[] registers) {
        int d0 = frame.get(ValueLayout.JAVA_BYTE, 0) & 0xff;
        boolean multicast = (d0 & 1) != 0;
        if (isBroadcast(frame)) {
            return (rctl & (Reg.RCTL_BAM | Reg.RCTL_MPE)) != 0;
        }
        if (multicast) {
            if ((rctl & Reg.RCTL_MPE) != 0) {
                return true;
            }
            int d4 = frame.get(ValueLayout.JAVA_BYTE, 4) & 0xff;
            int d5 = frame.get(ValueLayout.JAVA_BYTE, 5) & 0xff;
            int hash = (d5 << 8 | d4) >>> MTA_SHIFT[rctl >>> Reg.RCTL_MO_SHIFT & 3] & 0xfff;
            return (registers[Reg.MTA / 4 + (hash >>> 5)] >>> (hash & 31) & 1) != 0;
        }
        if ((rctl & Reg.RCTL_UPE) != 0) {
            return true;
        }
        long destination = 0;
        for (int i = 5; i >= 0; i--) {
            destination = destination << 8 | frame.get(ValueLayout.JAVA_BYTE, i) & 0xff;
        }
        for (int i = 0; i < Reg.RA_COUNT; i++) {
            int low = registers[Reg.RA / 4 + 2 * i];
            int high = registers[Reg.RA / 4 + 2 * i + 1];
            if ((high & Reg.RAH_AV) != 0 && (Integer.toUnsignedLong(low) | (long) (high & 0xffff) << 32) == destination) {
                return true;
            }
        }
        return false;
    }

    static boolean isBroadcast(MemorySegment frame) {
        for (int i = 0; i < 6; i++) {
            if (frame.get(ValueLayout.JAVA_BYTE, i) != (byte) 0xff) {
                return false;
            }
        }
        return true;
    }

    static boolean isMulticast(MemorySegment frame) {
        return (frame.get(ValueLayout.JAVA_BYTE, 0) & 1) != 0;
    }
}
