package io.vmguard.cli;

import io.vmguard.sched.CgroupCpu;
import io.vmguard.sched.HostScheduling;
import io.vmguard.sched.SchedClass;
import io.vmguard.sched.SchedulingPolicy;
import io.vmguard.sched.ThreadRole;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * How the host should schedule this VM's threads (issue 17): per thread class (vcpu, io, other) a CPU set,
 * a nice value and a scheduling class; and the cgroup's CPU weight and cap where the host delegated one.
 */
public final class SchedulingOptions {
    @Option(names = "--cpu-affinity", paramLabel = "[CLASS=]CPUS",
            description = "host CPUs for the VM's threads, in list syntax (0-1,3); CLASS=CPUS for one class only "
                    + "(vcpu, io, other); repeatable, e.g. --cpu-affinity vcpu=0 --cpu-affinity io=1")
    List<String> affinity = List.of();

    @Option(names = "--vcpu-nice", paramLabel = "N", description = "nice value of the vCPU threads (-20..19)")
    Integer vcpuNice;

    @Option(names = "--io-nice", paramLabel = "N",
            description = "nice value of the I/O threads (-20..19; below 0 needs CAP_SYS_NICE), e.g. above the vCPUs")
    Integer ioNice;

    @Option(names = "--other-nice", paramLabel = "N",
            description = "nice value of the VM's other threads (-20..19): the JVM's compilers and GC, the API, the watchdog")
    Integer otherNice;

    @Option(names = "--vcpu-sched", paramLabel = "normal|batch|idle",
            description = "host scheduling class of the vCPU threads: batch or idle for a batch VM that should yield to others")
    String vcpuSched;

    @Option(names = "--cpu-weight", paramLabel = "N",
            description = "cgroup v2 cpu.weight (1..10000) of vmguard's cgroup; only where the host delegated it")
    Integer cpuWeight;

    @Option(names = "--cpu-max", paramLabel = "QUOTA/PERIOD",
            description = "cgroup v2 cpu.max in microseconds (e.g. 50000/100000: half a CPU); only where delegated")
    String cpuMax;

    HostScheduling settings() throws CliException {
        SchedulingPolicy policy = SchedulingPolicy.NONE;
        try {
            for (String spec : affinity) {
                policy = policy.withAffinity(spec);
            }
            if (vcpuNice != null) {
                policy = policy.with(ThreadRole.VCPU, policy.forRole(ThreadRole.VCPU).withNice(vcpuNice));
            }
            if (ioNice != null) {
                policy = policy.with(ThreadRole.IO, policy.forRole(ThreadRole.IO).withNice(ioNice));
            }
            if (otherNice != null) {
                policy = policy.with(ThreadRole.OTHER, policy.forRole(ThreadRole.OTHER).withNice(otherNice));
            }
            if (vcpuSched != null) {
                policy = policy.with(ThreadRole.VCPU, policy.forRole(ThreadRole.VCPU).withSchedClass(SchedClass.fromWord(vcpuSched)));
            }
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        Optional<HostScheduling.CpuMax> max = Optional.empty();
        if (cpuMax != null) {
            String[] parts = cpuMax.split("/", -1);
            try {
                if (parts.length > 2) {
                    throw new NumberFormatException();
                }
                max = Optional.of(new HostScheduling.CpuMax(Long.parseLong(parts[0]), parts.length == 2 ? Long.parseLong(parts[1]) : 100_000));
            } catch (NumberFormatException e) {
                throw new CliException("--cpu-max takes QUOTA/PERIOD in microseconds (e.g. 50000/100000), not '" + clip(cpuMax) + "'");
            } catch (IllegalArgumentException e) {
                throw new CliException("--cpu-max: " + e.getMessage());
            }
        }
        if (cpuWeight != null && (cpuWeight < CgroupCpu.WEIGHT_MIN || cpuWeight > CgroupCpu.WEIGHT_MAX)) {
            throw new CliException("--cpu-weight takes " + CgroupCpu.WEIGHT_MIN + ".." + CgroupCpu.WEIGHT_MAX + ", not " + cpuWeight);
        }
        return new HostScheduling(policy, Optional.ofNullable(cpuWeight), max);
    }

    private static String clip(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }
}
