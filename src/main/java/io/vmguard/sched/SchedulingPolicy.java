package io.vmguard.sched;

import java.util.EnumMap;
import java.util.Map;
import java.util.stream.Collectors;

/** What to ask of the host scheduler for each {@link ThreadRole} of one VM's process. */
public record SchedulingPolicy(Map<ThreadRole, ThreadPolicy> byRole) {
    public static final SchedulingPolicy NONE = new SchedulingPolicy(Map.of());

    public SchedulingPolicy {
        EnumMap<ThreadRole, ThreadPolicy> copy = new EnumMap<>(ThreadRole.class);
        byRole.forEach((role, policy) -> {
            if (!policy.isUnchanged()) {
                copy.put(role, policy);
            }
        });
        byRole = Map.copyOf(copy);
    }

    public ThreadPolicy forRole(ThreadRole role) {
        return byRole.getOrDefault(role, ThreadPolicy.UNCHANGED);
    }

    public boolean isEmpty() {
        return byRole.isEmpty();
    }

    public SchedulingPolicy with(ThreadRole role, ThreadPolicy policy) {
        EnumMap<ThreadRole, ThreadPolicy> copy = new EnumMap<>(ThreadRole.class);
        copy.putAll(byRole);
        copy.put(role, policy);
        return new SchedulingPolicy(copy);
    }

    /**
     * Adds one {@code --cpu-affinity} value: {@code LIST} (every thread of the process) or {@code ROLE=LIST}
     * with ROLE vcpu, io or other; a role's own list wins over the whole process's whatever the order.
     */
    public SchedulingPolicy withAffinity(String spec) {
        int equals = spec.indexOf('=');
        if (equals < 0) {
            CpuList all = CpuList.parse(spec);
            SchedulingPolicy out = this;
            for (ThreadRole role : ThreadRole.values()) {
                ThreadPolicy current = out.forRole(role);
                if (current.affinity().isEmpty()) {
                    out = out.with(role, current.withAffinity(all));
                }
            }
            return out;
        }
        String word = spec.substring(0, equals);
        ThreadRole role = ThreadRole.fromWord(word);
        if (role == null) {
            throw new IllegalArgumentException("thread class '" + word + "' in '" + spec + "' is not vcpu, io or other");
        }
        return with(role, forRole(role).withAffinity(CpuList.parse(spec.substring(equals + 1))));
    }

    /** For people: {@code vcpu: nice 10, idle; io: CPUs 1}. */
    @Override
    public String toString() {
        return byRole.isEmpty() ? "host defaults" : byRole.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .map(entry -> entry.getKey().word() + ": " + entry.getValue()).collect(Collectors.joining("; "));
    }
}
