package io.vmguard.vmi.linux;

import java.util.Optional;

/**
 * One VMA of a process ({@code struct vm_area_struct}): {@code [start, end)} with its vm_flags and, for a
 * file mapping, the file's path.
 */
public record MemoryArea(long start, long end, long flags, Optional<String> file, long vma) {
    public static final long VM_READ = 0x1;
    public static final long VM_WRITE = 0x2;
    public static final long VM_EXEC = 0x4;
    public static final long VM_SHARED = 0x8;

    /** The permissions as /proc/PID/maps prints them, e.g. {@code r-xp}. */
    public String permissions() {
        return "" + ((flags & VM_READ) != 0 ? 'r' : '-') + ((flags & VM_WRITE) != 0 ? 'w' : '-')
                + ((flags & VM_EXEC) != 0 ? 'x' : '-') + ((flags & VM_SHARED) != 0 ? 's' : 'p');
    }

    @Override
    public String toString() {
        return String.format("%x-%x %s %s", start, end, permissions(), file.orElse(""));
    }
}
