package io.vmguard.api.model;

import java.util.List;

/** {@code PUT /vmi/syscalls}: trace these system-call numbers (empty: stop), only in {@code process} when given. */
public record SyscallTrace(List<Integer> numbers, String process) {
    public SyscallTrace {
        numbers = numbers == null ? List.of() : List.copyOf(numbers);
    }
}
