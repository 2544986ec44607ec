package io.vmguard.vmi.linux;

import java.util.Optional;

/**
 * What introspection learned about one running kernel, once per boot: its symbols (already at run-time
 * addresses), KASLR slide, banner, types, and the page-table root of the kernel's own address space.
 * Shared between passes through a {@link KernelCache}.
 *
 * @param kernelRoot        guest-physical address of the top-level table used for kernel reads
 *                          ({@code init_top_pgt} when it translates, else the root discovery succeeded with)
 * @param kallsyms          where the kallsyms tables were found; empty when the symbols came from System.map
 * @param relativeBaseValue kallsyms_relative_base as read at discovery (a reboot with a new slide changes it)
 * @param types             the kernel's BTF layouts; empty when the kernel has no BTF or it could not be read
 * @param typesProblem      why {@code types} is empty
 */
public record DiscoveredKernel(SymbolTable symbols, long slide, String banner, long bannerAddress,
                               long kernelRoot, boolean fiveLevel, Optional<KallsymsTables> kallsyms,
                               long relativeBaseValue, Optional<KernelTypes> types, String typesProblem,
                               long btfAddress, byte[] btfHeader) {

    /** Where the x86-64 kernel is linked when KASLR does not move it ({@code __START_KERNEL}). */
    public static final long DEFAULT_TEXT = 0xffff_ffff_8100_0000L;

    public DiscoveredKernel {
        btfHeader = btfHeader.clone();
    }

    @Override
    public byte[] btfHeader() {
        return btfHeader.clone();
    }
}
