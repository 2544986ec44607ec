package io.vmguard.engine.interp;

import io.vmguard.engine.EngineException;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.EnginePayloadContract;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadMachine;

/**
 * The interpreter held to the payload contract KVM is held to. Its hypervisor signature is KVM's on
 * purpose: Linux enables kvmclock (which the interpreter implements) only under that signature.
 */
class InterpPayloadTest extends EnginePayloadContract {
    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return PayloadMachine.start(new InterpEngine(), payload, ring, interruptsEnabled);
    }
}
