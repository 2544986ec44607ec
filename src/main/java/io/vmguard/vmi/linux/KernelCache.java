package io.vmguard.vmi.linux;

import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.PageTableWalker;
import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.util.Arrays;

/**
 * Keeps the last {@link DiscoveredKernel} of one VM so that a pass costs a few reads instead of a scan and a
 * BTF parse. Before reuse the entry is checked against the guest: the banner, kallsyms_relative_base and the
 * BTF header must still read the same through the cached page-table root. A reboot into another kernel, or
 * the same kernel with another KASLR slide, fails that check and is discovered afresh.
 */
public final class KernelCache {
    private DiscoveredKernel kernel;

    public synchronized DiscoveredKernel kernel(GuestView view) throws VmiException {
        if (kernel == null || !stillRunning(view, kernel)) {
            kernel = null;
            kernel = KernelDiscovery.discover(view);
        }
        return kernel;
    }

    /** Forgets the cached kernel (e.g. after a guest reset). */
    public synchronized void clear() {
        kernel = null;
    }

    private static boolean stillRunning(GuestView view, DiscoveredKernel known) {
        VirtualMemory memory = new VirtualMemory(view.memory(),
                new PageTableWalker(view.memory(), known.kernelRoot(), known.fiveLevel()));
        try {
            if (!KernelDiscovery.readBanner(memory, known.bannerAddress()).equals(known.banner())) {
                return false;
            }
            if (known.kallsyms().isPresent()
                    && memory.readLong(known.kallsyms().get().relativeBase()) != known.relativeBaseValue()) {
                return false;
            }
            byte[] header = known.btfHeader();
            return header.length == 0 || Arrays.equals(memory.readBytes(known.btfAddress(), header.length), header);
        } catch (VmiException e) {
            return false;
        }
    }
}
