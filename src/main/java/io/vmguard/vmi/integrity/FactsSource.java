package io.vmguard.vmi.integrity;

import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.VmiException;
import java.util.BitSet;
import java.util.Map;
import java.util.Optional;

/** Where the monitor's facts come from: a model of the guest's kernel, found without a profile. */
public interface FactsSource {
    /**
     * Whether the guest has reached the point a baseline is taken at by default: its kernel found and its
     * init process running (the kernel's own set-up, which writes text and read-only data, is over).
     */
    boolean initStarted(GuestView view) throws VmiException;

    /**
     * Reads the facts. Page hashes are computed for {@code rehash} frames (all when null) and taken from
     * {@code previous} for the others.
     */
    KernelFacts read(GuestView view, BitSet rehash, KernelFacts previous) throws VmiException;

    WatchedRegions regions(GuestView view) throws VmiException;

    AddressNames names();

    /** The process a vCPU runs: "pid name", or empty when it cannot be told. */
    Optional<String> processOf(GuestView view, int vcpu);

    /**
     * The process whose page tables {@code cr3} selects, read live (on the reporting vCPU's thread, for a
     * process younger than the last pass), or empty.
     */
    Optional<String> processByRootNow(long cr3);

    /** Names by page-table root, for events trapped on a vCPU thread (no view there): pgd physical address → "pid name". */
    Map<Long, String> processesByRoot(GuestView view) throws VmiException;
}
