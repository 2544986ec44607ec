package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.sched.HostScheduling;
import io.vmguard.sched.SchedClass;
import io.vmguard.sched.ThreadRole;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SchedulingOptionsTest {
    private static HostScheduling parse(String... args) throws CliException {
        SchedulingOptions options = new SchedulingOptions();
        new CommandLine(options).parseArgs(args);
        return options.settings();
    }

    @Test
    void perClassAffinityNiceAndClassReachThePolicy() throws CliException {
        HostScheduling settings = parse("--cpu-affinity", "0-1", "--cpu-affinity", "io=1", "--vcpu-nice", "10",
                "--io-nice", "-5", "--other-nice", "2", "--vcpu-sched", "idle");
        assertEquals("vcpu: nice 10, idle, CPUs 0-1; io: nice -5, CPUs 1; other: nice 2, CPUs 0-1", settings.policy().toString());
        assertEquals(Optional.of(SchedClass.IDLE), settings.policy().forRole(ThreadRole.VCPU).schedClass());
        assertEquals(Optional.of(new HostScheduling.CpuMax(50_000, 100_000)), parse("--cpu-max", "50000/100000").cpuMax());
    }

    @Test
    void noOptionsAskNothingOfTheHost() throws CliException {
        HostScheduling settings = parse();
        assertEquals(true, settings.policy().isEmpty());
        assertEquals(Optional.empty(), settings.cpuWeight());
    }

    @Test
    void badValuesAreOneLineErrors() {
        for (List<String> bad : List.of(List.of("--cpu-affinity", "gpu=0"), List.of("--cpu-affinity", "0-"),
                List.of("--vcpu-nice", "25"), List.of("--other-nice", "-21"), List.of("--vcpu-sched", "fifo"), List.of("--cpu-weight", "0"),
                List.of("--cpu-max", "half"), List.of("--cpu-max", "1/2/3"), List.of("--cpu-max", "10/100000"))) {
            CliException e = assertThrows(CliException.class, () -> parse(bad.toArray(String[]::new)), bad.toString());
            assertEquals(-1, e.getMessage().indexOf('\n'), e.getMessage());
        }
    }
}
