package io.vmguard.snapshot;

/**
 * A part of the machine that saves and restores its own state. {@link #saveState} runs while the VM is
 * paused (no vCPU runs, no backend touches guest memory); {@link #restoreState} runs on a freshly built
 * part before anything runs, and must validate what it reads: a snapshot file is untrusted input.
 */
public interface Snapshottable {
    void saveState(StateWriter out);

    void restoreState(StateReader in) throws SnapshotException;
}
