package io.vmguard.devices.e1000;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The card's counters: the guest-visible statistics registers (0x4000-0x40ff, cleared when read; 64-bit
 * pairs cleared when their high half is read) and vmguard's own {@link E1000Counters}. Written by the
 * transmit path and the receive thread without a common lock, so every field is atomic.
 */
final class Stats {
    private final AtomicLongArray registers = new AtomicLongArray((Reg.STATS_END - Reg.STATS) / 4);
    final AtomicLong txFrames = new AtomicLong(), txBytes = new AtomicLong(), rxFrames = new AtomicLong(),
            rxBytes = new AtomicLong(), tsoPackets = new AtomicLong(), tsoSegments = new AtomicLong(),
            checksumOffloads = new AtomicLong(), malformed = new AtomicLong(), dmaFaults = new AtomicLong(),
            ringErrors = new AtomicLong(), rxDropped = new AtomicLong();

    void add(int register, long amount) {
        registers.addAndGet((register - Reg.STATS) / 4, amount);
    }

    /** A frame on the wire, either way: the packet, byte and (if any) broadcast/multicast counters. */
    void transmitted(int bytes) {
        txFrames.incrementAndGet();
        txBytes.addAndGet(bytes);
        add(Reg.GPTC, 1);
        add(Reg.TPT, 1);
        add(Reg.GOTCL, bytes);
        add(Reg.TOTL, bytes);
    }

    void received(int bytes, boolean broadcast, boolean multicast) {
        rxFrames.incrementAndGet();
        rxBytes.addAndGet(bytes);
        add(Reg.GPRC, 1);
        add(Reg.TPR, 1);
        add(Reg.GORCL, bytes);
        add(Reg.TORL, bytes);
        if (broadcast) {
            add(Reg.BPRC, 1);
        } else if (multicast) {
            add(Reg.MPRC, 1);
        }
    }

    /** A statistics register read: clears it, or for a 64-bit pair gives the low half and clears on the high. */
    int read(int register) {
        int index = (register - Reg.STATS) / 4;
        return switch (register) {
            case Reg.GORCL, Reg.GOTCL, Reg.TORL, Reg.TOTL -> (int) registers.get(index);
            case Reg.GORCH, Reg.GOTCH, Reg.TORH, Reg.TOTH -> (int) (registers.getAndSet(index - 1, 0) >>> 32);
            default -> (int) Math.min(registers.getAndSet(index, 0), 0xffffffffL);
        };
    }

    E1000Counters snapshot() {
        return new E1000Counters(txFrames.get(), txBytes.get(), rxFrames.get(), rxBytes.get(), tsoPackets.get(),
                tsoSegments.get(), checksumOffloads.get(), malformed.get(), dmaFaults.get(), ringErrors.get(), rxDropped.get());
    }
}
