package io.vmguard.vmm;

import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.VmiException;
import io.vmguard.vmi.integrity.AddressNames;
import io.vmguard.vmi.integrity.FactsSource;
import io.vmguard.vmi.integrity.KernelFacts;
import io.vmguard.vmi.integrity.WatchedRegions;
import java.util.BitSet;
import java.util.Map;
import java.util.Optional;

/** The Linux guest model behind introspection (kallsyms, BTF and the kernel's lists, found in guest memory). */
public final class LinuxIntrospection {
    private LinuxIntrospection() {}

    /** A fresh model for one VM: it finds its kernel on first use. */
    public static FactsSource factsSource() {
        return new FactsSource() {
            private VmiException missing() {
                return new VmiException("the Linux guest model is not wired in yet");
            }

            @Override
            public boolean initStarted(GuestView view) throws VmiException {
                throw missing();
            }

            @Override
            public KernelFacts read(GuestView view, BitSet rehash, KernelFacts previous) throws VmiException {
                throw missing();
            }

            @Override
            public WatchedRegions regions(GuestView view) throws VmiException {
                throw missing();
            }

            @Override
            public AddressNames names() {
                return AddressNames.BARE;
            }

            @Override
            public Optional<String> processOf(GuestView view, int vcpu) {
                return Optional.empty();
            }

            @Override
            public Map<Long, String> processesByRoot(GuestView view) throws VmiException {
                throw missing();
            }
        };
    }
}
