package io.vmguard.vmi.linux;

/**
 * One kernel symbol.
 *
 * @param type    the nm type letter (T/t text, D/d data, R/r read-only, B/b bss, A absolute)
 * @param perCpu  the address is an offset into each CPU's per-CPU area, not a virtual address
 */
public record Symbol(String name, long address, char type, boolean perCpu) {
    @Override
    public String toString() {
        return String.format("%016x %c %s%s", address, type, name, perCpu ? " (per-CPU)" : "");
    }
}
