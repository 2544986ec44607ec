package io.vmguard.vmi.linux;

import java.util.List;

/**
 * A module on the kernel's {@code modules} list.
 *
 * @param address the struct module
 * @param state   the module_state constant's name (MODULE_STATE_LIVE, ...)
 * @param memory  the module's memory regions: on 6.4+ one per {@code mod_mem_type} with a size, on older
 *                kernels {@code core_layout} and {@code init_layout}
 */
public record LoadedModule(long address, String name, String state, List<Region> memory) {
    public LoadedModule {
        memory = List.copyOf(memory);
    }

    /** One region: its kind (MOD_TEXT, MOD_DATA, ... or core_layout) and extent. */
    public record Region(String kind, long base, long size) {
        public boolean contains(long address) {
            return Long.compareUnsigned(address - base, size) < 0;
        }
    }

    /** Where the module's code starts (MOD_TEXT, or core_layout's base). */
    public long base() {
        return memory.isEmpty() ? 0 : memory.getFirst().base();
    }

    /** Size of the module's code region. */
    public long size() {
        return memory.isEmpty() ? 0 : memory.getFirst().size();
    }

    public boolean contains(long address) {
        return memory.stream().anyMatch(r -> r.contains(address));
    }
}
