package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.nio.file.Files;
import java.util.List;

/** Guest RAM, a KVM VM and its vCPU 0, closed together; and the check that skips tests without KVM. */
final class KvmTestMachine implements AutoCloseable {
    final GuestMemory memory;
    final VirtualMachine vm;
    final Vcpu vcpu;
    private Payload payload;

    private KvmTestMachine(GuestMemory memory, VirtualMachine vm, Vcpu vcpu) {
        this.memory = memory;
        this.vm = vm;
        this.vcpu = vcpu;
    }

    /** Skips the calling test, saying why, unless /dev/kvm exists and opens read-write. */
    static void assumeKvm() {
        assumeTrue(Files.exists(KvmEngine.DEFAULT_DEVICE), "/dev/kvm is absent: this host has no KVM");
        try {
            Libc.close(Libc.open(KvmEngine.DEFAULT_DEVICE.toString(), Libc.O_RDWR | Libc.O_CLOEXEC));
        } catch (NativeException e) {
            assumeTrue(false, "/dev/kvm cannot be opened: " + e.getMessage());
        }
    }

    /** A VM over 2 MiB of RAM at 0 with vCPU 0 created (and not yet set up). */
    static KvmTestMachine create() throws EngineException, NativeException {
        assumeKvm();
        GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, LongModeSandbox.MIN_MEMORY)));
        VirtualMachine vm = null;
        try {
            vm = new KvmEngine().createVm(memory);
            return new KvmTestMachine(memory, vm, vm.createVcpu(0));
        } catch (EngineException | RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }

    /** A machine whose vCPU 0 is about to run {@code payload}'s first instruction. */
    static KvmTestMachine start(String payload, LongModeSandbox.Ring ring, boolean interruptsEnabled)
            throws EngineException, NativeException {
        KvmTestMachine machine = create();
        try {
            machine.load(PayloadAssembler.assemble(payload, LongModeSandbox.PAYLOAD), ring, interruptsEnabled);
            return machine;
        } catch (EngineException | RuntimeException e) {
            machine.close();
            throw e;
        }
    }

    void load(Payload payload, LongModeSandbox.Ring ring, boolean interruptsEnabled) throws EngineException {
        this.payload = payload;
        LongModeSandbox.enter(vcpu, memory, payload, ring, interruptsEnabled);
    }

    Payload payload() {
        return payload;
    }

    @Override
    public void close() {
        vm.close();
        memory.close();
    }
}
