package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.vmi.linux.Symbol;
import io.vmguard.vmi.linux.SymbolTable;
import io.vmguard.vmm.GuestProfiler;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The guest profile's report: samples folded by kernel function, user space, halted and in-device lines, most first. */
class ProfileReportTest {
    private static final long TEXT = 0xffff_ffff_8100_0000L;
    private static final SymbolTable SYMBOLS = new SymbolTable(List.of(new Symbol("memcpy", TEXT, 'T', false),
            new Symbol("tcp_sendmsg", TEXT + 0x100, 'T', false), new Symbol("_etext", TEXT + 0x1000, 'T', false)));

    @Test
    void samplesFoldIntoTheirFunctionsAndTheSpecialLinesMostFirst() {
        GuestProfiler.Profile profile = new GuestProfiler.Profile(Map.of(TEXT + 4, 3L, TEXT + 0x20, 2L, TEXT + 0x180, 4L,
                0x40_1000L, 1L), 6, 2, 0, Duration.ofMillis(1), OptionalLong.of(123_456));
        assertEquals(List.of(new ProfileReport.Line("[halted]", 6), new ProfileReport.Line("memcpy", 5),
                        new ProfileReport.Line("tcp_sendmsg", 4), new ProfileReport.Line(ProfileReport.IN_DEVICE, 2),
                        new ProfileReport.Line(ProfileReport.USER, 1)),
                ProfileReport.lines(profile, Optional.of(SYMBOLS)));
        String report = ProfileReport.render(profile, Optional.of(SYMBOLS));
        assertTrue(report.startsWith("# guest profile: 18 samples, one per vCPU every 1000 us; 123456 guest instructions\n"), report);
        assertTrue(report.contains(" 27.78%         5 memcpy\n"), report);
    }

    @Test
    void withoutSymbolsKernelSamplesFoldByPage() {
        GuestProfiler.Profile profile = new GuestProfiler.Profile(Map.of(TEXT + 4, 3L, TEXT + 0x2004, 1L), 0, 0, 0,
                Duration.ofMillis(1), OptionalLong.empty());
        assertEquals(List.of(new ProfileReport.Line("0xffffffff81000000 (page)", 3), new ProfileReport.Line("0xffffffff81002000 (page)", 1)),
                ProfileReport.lines(profile, Optional.empty()));
    }
}
