/**
 * The snapshot contract: each part of the machine (an engine's vCPU and platform, every device) saves
 * its own state into a named tree ({@link io.vmguard.snapshot.StateWriter}) and restores it from one
 * ({@link io.vmguard.snapshot.StateReader}), checking everything it reads. {@code vmm} assembles the
 * trees into the snapshot file; guest memory goes to a separate file (see docs/snapshots.md).
 */
package io.vmguard.snapshot;
