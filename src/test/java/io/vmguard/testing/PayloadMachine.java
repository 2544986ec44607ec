package io.vmguard.testing;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.sys.NativeException;
import java.util.List;

/** Guest RAM, a VM of some engine and its vCPU 0, closed together: where test payloads run. */
public final class PayloadMachine implements AutoCloseable {
    public final GuestMemory memory;
    public final VirtualMachine vm;
    public final Vcpu vcpu;
    private Payload payload;

    private PayloadMachine(GuestMemory memory, VirtualMachine vm, Vcpu vcpu) {
        this.memory = memory;
        this.vm = vm;
        this.vcpu = vcpu;
    }

    /** A VM over {@link LongModeSandbox#MIN_MEMORY} of RAM at 0 with vCPU 0 created (and not yet set up). */
    public static PayloadMachine create(Engine engine) throws EngineException, NativeException {
        return create(engine, GuestMemory.allocate(List.of(new GuestMemory.Range(0, LongModeSandbox.MIN_MEMORY))));
    }

    /** A VM over {@code memory} (taken over: closed with the machine) with vCPU 0 created. */
    public static PayloadMachine create(Engine engine, GuestMemory memory) throws EngineException {
        VirtualMachine vm = null;
        try {
            vm = engine.createVm(memory);
            return new PayloadMachine(memory, vm, vm.createVcpu(0));
        } catch (EngineException | RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }

    /** A machine whose vCPU 0 is about to run {@code payload}'s first instruction. */
    public static PayloadMachine start(Engine engine, String payload, LongModeSandbox.Ring ring, boolean interruptsEnabled)
            throws EngineException, NativeException {
        PayloadMachine machine = create(engine);
        try {
            machine.load(PayloadAssembler.assemble(payload, LongModeSandbox.PAYLOAD), ring, interruptsEnabled);
            return machine;
        } catch (EngineException | RuntimeException e) {
            machine.close();
            throw e;
        }
    }

    public void load(Payload payload, LongModeSandbox.Ring ring, boolean interruptsEnabled) throws EngineException {
        this.payload = payload;
        LongModeSandbox.enter(vcpu, memory, payload, ring, interruptsEnabled);
    }

    public Payload payload() {
        return payload;
    }

    @Override
    public void close() {
        vcpu.close();
        vm.close();
        memory.close();
    }
}
