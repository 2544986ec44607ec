package io.vmguard.engine.kvm;

import java.util.List;

/**
 * What this host's KVM can hand out of a vCPU, decided once per VM: the XSAVE area (its size, and
 * whether KVM_GET_XSAVE2 must fetch it) with XCR0 beside it, or, on a CPU without XSAVE, kvm_fpu; and
 * which of {@link KvmSnapshotMsrs} KVM saves and restores here, in their restore order.
 */
record KvmStateFormat(int xsaveBytes, boolean xsave2, boolean xcrs, List<Integer> msrs) {
    KvmStateFormat {
        msrs = List.copyOf(msrs);
    }

    boolean xsave() {
        return xsaveBytes > 0;
    }
}
