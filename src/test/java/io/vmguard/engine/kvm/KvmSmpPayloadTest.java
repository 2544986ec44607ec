package io.vmguard.engine.kvm;

import io.vmguard.engine.EngineException;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.EngineSmpContract;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadMachine;

/**
 * Two KVM vCPUs on two threads: the {@link EngineSmpContract} in ring 3 (nested KVM emulates ring 0, and the IPI's
 * handler is the only ring-0 code), with KVM's in-kernel local APICs carrying the IPI. Skipped without /dev/kvm.
 */
class KvmSmpPayloadTest extends EngineSmpContract {
    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return KvmTestMachine.start(payload, ring, interruptsEnabled);
    }

    @Override
    protected Ring ring() {
        return Ring.USER;
    }
}
