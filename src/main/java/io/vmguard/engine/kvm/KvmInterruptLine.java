package io.vmguard.engine.kvm;

import io.vmguard.bus.InterruptLine;

/** A GSI input of the in-kernel irqchip, driven with KVM_IRQ_LINE. */
final class KvmInterruptLine implements InterruptLine {
    private final KvmVm vm;
    private final int gsi;

    KvmInterruptLine(KvmVm vm, int gsi) {
        this.vm = vm;
        this.gsi = gsi;
    }

    @Override
    public void set(boolean asserted) {
        vm.setIrqLine(gsi, asserted);
    }

    @Override
    public String toString() {
        return "KVM GSI " + gsi;
    }
}
