package io.vmguard.engine.kvm;

import io.vmguard.engine.EngineException;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.EnginePayloadContract;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadMachine;

/** Ring-3 payloads under KVM: the shared {@link EnginePayloadContract}. */
class KvmRing3PayloadTest extends EnginePayloadContract {
    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return KvmTestMachine.start(payload, ring, interruptsEnabled);
    }
}
