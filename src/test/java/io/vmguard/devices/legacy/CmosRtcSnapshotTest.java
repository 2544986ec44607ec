package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.snapshot.SnapshotException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** CMOS RAM and the index survive a snapshot; the clock reads the new host's time. */
class CmosRtcSnapshotTest {
    private static final int INDEX = 0;
    private static final int DATA = 1;
    private static final Instant SAVED_AT = Instant.parse("2026-12-01T10:20:30Z");
    private static final Instant RESTORED_AT = Instant.parse("2026-12-24T23:59:58Z");

    private final CmosRtc original = new CmosRtc(Clock.fixed(SAVED_AT, ZoneOffset.UTC));

    @Test
    void ramAndTheSelectedIndexAreRestoredAndTheClockFollowsHostTime() throws Exception {
        write(original, 0x0b, 0x06); // register B: binary, 24-hour
        write(original, 0x40, 0xab);
        original.writeRegister(INDEX, 0x40); // left selected
        CmosRtc restored = new CmosRtc(Clock.fixed(RESTORED_AT, ZoneOffset.UTC));

        SnapshotJson.copy(original, restored);

        assertEquals(0xab, restored.readRegister(DATA), "the index still selects 0x40");
        assertEquals(0x06, read(restored, 0x0b));
        assertEquals(58, read(restored, 0x00), "seconds of the restoring host's time, in binary");
        assertEquals(24, read(restored, 0x07));
    }

    @Test
    void ramOfTheWrongSizeIsRefused() {
        SnapshotException e = assertThrows(SnapshotException.class,
                () -> SnapshotJson.copyCorrupted(original, tree -> tree.put("ram", new byte[127]), new CmosRtc()));
        assertEquals("snapshot field ram has 127 bytes, expected 128", e.getMessage());
    }

    @Test
    void anIndexBeyondTheRamIsRefused() {
        SnapshotException e = assertThrows(SnapshotException.class,
                () -> SnapshotJson.copyCorrupted(original, tree -> tree.put("index", 0x80), new CmosRtc()));
        assertEquals("snapshot field index is 128, outside 0..127", e.getMessage());
    }

    private static void write(CmosRtc rtc, int register, int value) {
        rtc.writeRegister(INDEX, register);
        rtc.writeRegister(DATA, value);
    }

    private static int read(CmosRtc rtc, int register) {
        rtc.writeRegister(INDEX, register);
        return rtc.readRegister(DATA);
    }
}
