package io.vmguard.memory;

import java.util.Locale;

/**
 * What backs guest RAM. Both are kept out of core dumps (MADV_DONTDUMP).
 *
 * <ul>
 * <li>{@link #ANONYMOUS}: private anonymous memory, the default; root on the host can read it
 *     (/proc/PID/mem, ptrace).</li>
 * <li>{@link #SECRET}: memfd_secret(2): the pages leave the kernel's direct map, so /proc/PID/mem, ptrace,
 *     process_vm_readv and other kernel-side reads of this process's guest RAM fail, root or not. Only this
 *     process's own mappings reach it. Needs CONFIG_SECRETMEM (and secretmem.enable=1 before Linux 6.5);
 *     KVM cannot use it (it maps guest RAM through get_user_pages, which refuses secretmem).</li>
 * </ul>
 */
public enum MemoryBackend {
    ANONYMOUS, SECRET;

    /** {@code anonymous} or {@code secret}. */
    public static MemoryBackend parse(String name) {
        return switch (name) {
            case "anonymous" -> ANONYMOUS;
            case "secret" -> SECRET;
            default -> throw new IllegalArgumentException("--memory-backend must be anonymous or secret, not '" + name + "'");
        };
    }

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
