package io.vmguard.api.model;

import java.util.List;

/**
 * {@code PUT/PATCH/GET /machine-config}. Every field is optional here because PATCH sends any subset; PUT's
 * required ones are checked by {@link #requireComplete()}. vmguard accepts Firecracker's other fields at
 * their "off" values: {@code smt} and {@code track_dirty_pages} (no effect: no SMT siblings, full snapshots only),
 * {@code cpu_template} and {@code huge_pages} only as "None".
 */
public record MachineConfig(Integer vcpuCount, Long memSizeMib, Boolean smt, Boolean trackDirtyPages,
                            String cpuTemplate, String hugePages) {
    public MachineConfig {
        Fields.oneOf(cpuTemplate, "cpu_template", List.of("None"));
        Fields.oneOf(hugePages, "huge_pages", List.of("None"));
    }

    /** What GET returns before any PUT: one vCPU, vmguard's default memory. */
    public static MachineConfig defaults(long memSizeMib) {
        return new MachineConfig(1, memSizeMib, false, false, null, "None");
    }

    public MachineConfig requireComplete() {
        Fields.required(vcpuCount, "vcpu_count");
        Fields.required(memSizeMib, "mem_size_mib");
        return this;
    }

    /** This configuration with the fields {@code patch} gives replaced; PUT's unspecified ones reset. */
    public MachineConfig patchedWith(MachineConfig patch) {
        return new MachineConfig(
                patch.vcpuCount != null ? patch.vcpuCount : vcpuCount,
                patch.memSizeMib != null ? patch.memSizeMib : memSizeMib,
                patch.smt != null ? patch.smt : smt,
                patch.trackDirtyPages != null ? patch.trackDirtyPages : trackDirtyPages,
                patch.cpuTemplate != null ? patch.cpuTemplate : cpuTemplate,
                patch.hugePages != null ? patch.hugePages : hugePages);
    }

    /** PUT semantics: fields left out take their defaults. */
    public MachineConfig withDefaults() {
        return new MachineConfig(vcpuCount, memSizeMib, smt != null && smt, trackDirtyPages != null && trackDirtyPages,
                cpuTemplate, hugePages == null ? "None" : hugePages);
    }
}
