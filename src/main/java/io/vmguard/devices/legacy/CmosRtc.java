package io.vmguard.devices.legacy;

import io.vmguard.bus.BusRange;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.time.Clock;
import java.time.LocalDateTime;
import java.util.Objects;

/**
 * The MC146818 CMOS real-time clock: an index port (0x70) selecting one of 128 bytes and a data port
 * (0x71) to read or write it.
 *
 * <p>The time registers read the host's {@link Clock} in the clock's zone (UTC by default, which is what
 * Linux assumes of the RTC), in BCD or binary as register B's DM bit says, in 24- or 12-hour form as its
 * 24/12 bit says. Writes to them, and to the century byte, are ignored: the guest cannot move the host's
 * time, so {@code hwclock --systohc} does not stick. Register A never shows update-in-progress, because
 * Linux spins while it is set; register D always says the time is valid. There are no alarm, periodic or
 * update interrupts, so register C reads 0. Every other byte is plain RAM.
 */
public final class CmosRtc implements ByteRegisters, Snapshottable {
    public static final BusRange PORTS = new BusRange(0x70, 2);

    private static final int INDEX_PORT = 0;
    private static final int DATA_PORT = 1;
    /** Bit 7 of the index masks NMIs on a PC; vmguard has no NMI to mask. */
    private static final int INDEX_MASK = 0x7f;

    private static final int SECONDS = 0x00;
    private static final int MINUTES = 0x02;
    private static final int HOURS = 0x04;
    private static final int DAY_OF_WEEK = 0x06;
    private static final int DAY_OF_MONTH = 0x07;
    private static final int MONTH = 0x08;
    private static final int YEAR = 0x09;
    private static final int STATUS_A = 0x0a;
    private static final int STATUS_B = 0x0b;
    private static final int STATUS_C = 0x0c;
    private static final int STATUS_D = 0x0d;
    private static final int CENTURY = 0x32;

    private static final int A_UPDATE_IN_PROGRESS = 0x80;
    /** 32.768 kHz time base, 1024 Hz periodic rate: what firmware programs. */
    private static final int A_DEFAULT = 0x26;
    private static final int B_BINARY = 0x04;
    private static final int B_24_HOUR = 0x02;
    private static final int B_DEFAULT = B_24_HOUR; // BCD, 24-hour
    private static final int D_VALID_RAM_AND_TIME = 0x80;
    private static final int HOURS_PM = 0x80;

    private final Clock clock;
    private final byte[] ram = new byte[128];
    private int index;

    /** An RTC showing UTC. */
    public CmosRtc() {
        this(Clock.systemUTC());
    }

    public CmosRtc(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        ram[STATUS_A] = A_DEFAULT;
        ram[STATUS_B] = B_DEFAULT;
    }

    @Override
    public synchronized int readRegister(long offset) {
        return offset == DATA_PORT ? readData(index) : 0xff; // the index port is write-only
    }

    @Override
    public synchronized void writeRegister(long offset, int value) {
        if (offset == INDEX_PORT) {
            index = value & INDEX_MASK;
        } else if (offset == DATA_PORT) {
            writeData(index, value);
        }
    }

    /**
     * The 128 bytes of CMOS RAM and the index register. The time registers in it are never read (the
     * clock follows host time), so a restored guest sees the time move on by however long the snapshot
     * waited, as a real machine's battery-backed clock would.
     */
    @Override
    public synchronized void saveState(StateWriter out) {
        out.putBytes("ram", ram.clone()).putInt("index", index);
    }

    @Override
    public synchronized void restoreState(StateReader in) throws SnapshotException {
        byte[] saved = in.getBytes("ram", ram.length);
        int savedIndex = in.getInt("index", 0, INDEX_MASK);
        System.arraycopy(saved, 0, ram, 0, ram.length);
        ram[STATUS_A] &= (byte) ~A_UPDATE_IN_PROGRESS; // as a write to register A leaves it
        index = savedIndex;
    }

    private int readData(int register) {
        return switch (register) {
            case SECONDS -> encode(now().getSecond());
            case MINUTES -> encode(now().getMinute());
            case HOURS -> encodeHours(now().getHour());
            case DAY_OF_WEEK -> encode(now().getDayOfWeek().getValue() % 7 + 1); // 1 is Sunday
            case DAY_OF_MONTH -> encode(now().getDayOfMonth());
            case MONTH -> encode(now().getMonthValue());
            case YEAR -> encode(now().getYear() % 100);
            case CENTURY -> encode(now().getYear() / 100);
            case STATUS_A -> Byte.toUnsignedInt(ram[STATUS_A]) & ~A_UPDATE_IN_PROGRESS;
            case STATUS_C -> 0; // no interrupt flags, ever
            case STATUS_D -> D_VALID_RAM_AND_TIME;
            default -> Byte.toUnsignedInt(ram[register]);
        };
    }

    private void writeData(int register, int value) {
        switch (register) {
            case SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> {} // host time rules
            case STATUS_A -> ram[STATUS_A] = (byte) (value & ~A_UPDATE_IN_PROGRESS);
            case STATUS_C, STATUS_D -> {} // read-only
            default -> ram[register] = (byte) value;
        }
    }

    private LocalDateTime now() {
        return LocalDateTime.now(clock);
    }

    private int encodeHours(int hour) {
        if ((ram[STATUS_B] & B_24_HOUR) != 0) {
            return encode(hour);
        }
        int twelveHour = hour % 12 == 0 ? 12 : hour % 12;
        return encode(twelveHour) | (hour >= 12 ? HOURS_PM : 0);
    }

    private int encode(int value) {
        return (ram[STATUS_B] & B_BINARY) != 0 ? value : (value / 10) << 4 | value % 10;
    }
}
