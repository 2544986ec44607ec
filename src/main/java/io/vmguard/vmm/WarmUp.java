package io.vmguard.vmm;

import io.vmguard.engine.EngineException;
import io.vmguard.memory.HostMemory;
import io.vmguard.sys.Libc;
import java.lang.management.ManagementFactory;

/**
 * The slow first-time work of building or restoring a VM (native linking, the engine's classes, the JSON
 * reader of snapshot files, the watchdog's thread bean, the sealing crypto), done ahead of time by a server that waits for
 * requests. It changes no state: a request that arrives during it only shares the CPU with it.
 */
public final class WarmUp {
    private WarmUp() {}

    /** Everything a boot or restore on {@code engine} touches first. Never throws. */
    public static void forEngine(String engine) {
        Libc.link();
        HostMemory.probe();
        ManagementFactory.getThreadMXBean();
        SnapshotFile.warmUp();
        io.vmguard.seal.SealedMemoryImage.warmUp();
        io.vmguard.tpm.SessionCrypto.warmUp();
        try {
            Engines.create(engine);
        } catch (EngineException e) {
            // Not available here: the request will say so.
        }
    }
}
