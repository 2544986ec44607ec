package io.vmguard.vmi.dump;

import java.util.Objects;
import java.util.Optional;

/**
 * How a dump is written.
 *
 * @param vmcoreInfo the guest kernel's VMCOREINFO text ({@code OSRELEASE=...}, {@code KERNELOFFSET=...},
 *                   {@code SYMBOL(name)=...} lines, each ending in a newline), written as a "VMCOREINFO" note
 *                   when present. With it crash takes the KASLR slide and phys_base from the text instead of
 *                   deriving them from the QEMU notes' CR3 and IDTR.
 * @param progress   told after each chunk of memory
 */
public record DumpOptions(Optional<String> vmcoreInfo, DumpProgress progress) {
    public DumpOptions {
        Objects.requireNonNull(vmcoreInfo, "vmcoreInfo");
        Objects.requireNonNull(progress, "progress");
    }

    public static DumpOptions defaults() {
        return new DumpOptions(Optional.empty(), DumpProgress.NONE);
    }

    public DumpOptions withVmcoreInfo(String text) {
        return new DumpOptions(Optional.of(text), progress);
    }

    public DumpOptions withProgress(DumpProgress listener) {
        return new DumpOptions(vmcoreInfo, listener);
    }
}
