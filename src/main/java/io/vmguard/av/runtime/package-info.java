/**
 * Runtime scanning of guest code (VirtAV's idea): every guest-physical page is scanned with the signature
 * database before its first instruction runs, and again before it runs after any change, by a vCPU or by a
 * device. The engine reports each such first execution through the monitoring contract
 * ({@link io.vmguard.engine.monitor.TrapKind#CODE_EXECUTION}); the scanner answers run, refuse (the guest's
 * kernel ends the process) or hold (the VM is paused). Where the engine cannot trap, {@link CodeSweeper}
 * scans what the guest's page tables make executable, periodically.
 */
package io.vmguard.av.runtime;
