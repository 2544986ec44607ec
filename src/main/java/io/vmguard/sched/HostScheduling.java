package io.vmguard.sched;

import java.io.IOException;
import java.util.Optional;

/**
 * One VM process's requests to the host scheduler: the per-role {@link SchedulingPolicy} (applied to the
 * threads by a {@link ThreadPlacer}), and the cgroup's cpu.weight and cpu.max ({@link #applyCgroup}).
 */
public record HostScheduling(SchedulingPolicy policy, Optional<Integer> cpuWeight, Optional<CpuMax> cpuMax) {
    /** cgroup v2 cpu.max: at most {@code quotaUs} of CPU time every {@code periodUs}, both in microseconds. */
    public record CpuMax(long quotaUs, long periodUs) {
        public CpuMax {
            if (periodUs < CgroupCpu.PERIOD_MIN_US || periodUs > CgroupCpu.PERIOD_MAX_US || quotaUs < CgroupCpu.PERIOD_MIN_US
                    || quotaUs > 1000 * periodUs) {
                throw new IllegalArgumentException("cpu.max " + quotaUs + "/" + periodUs + " needs a period of "
                        + CgroupCpu.PERIOD_MIN_US + ".." + CgroupCpu.PERIOD_MAX_US + " us and a quota of "
                        + CgroupCpu.PERIOD_MIN_US + " us up to 1000 periods");
            }
        }
    }

    public static final HostScheduling NONE = new HostScheduling(SchedulingPolicy.NONE, Optional.empty(), Optional.empty());

    /** Writes the cgroup's figures (if asked); throws with a one-line reason when the host does not let us. */
    public void applyCgroup() throws IOException {
        if (cpuWeight.isEmpty() && cpuMax.isEmpty()) {
            return;
        }
        switch (CgroupCpu.locate()) {
            case CgroupCpu.Unavailable(String reason) -> throw new IOException("cannot set --cpu-weight/--cpu-max: " + reason);
            case CgroupCpu.Writable cgroup -> {
                try {
                    if (cpuWeight.isPresent()) {
                        cgroup.setWeight(cpuWeight.get());
                    }
                    if (cpuMax.isPresent()) {
                        cgroup.setMax(cpuMax.get().quotaUs(), cpuMax.get().periodUs());
                    }
                } catch (IllegalArgumentException e) {
                    throw new IOException(e.getMessage());
                }
            }
        }
    }
}
