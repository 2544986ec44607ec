package io.vmguard.sched;

import java.io.IOException;
import java.util.Optional;

/**
 * One VM process's requests to the host scheduler: the per-role {@link SchedulingPolicy}, and the cgroup's
 * cpu.weight and cpu.max ({quota, period} in microseconds). {@link #apply} does the cgroup part at once and
 * returns the placer that keeps the thread part applied.
 */
public record HostScheduling(SchedulingPolicy policy, Optional<Integer> cpuWeight, Optional<long[]> cpuMax) {
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
                        cgroup.setMax(cpuMax.get()[0], cpuMax.get()[1]);
                    }
                } catch (IllegalArgumentException e) {
                    throw new IOException(e.getMessage());
                }
            }
        }
    }
}
