package io.vmguard.vmi.dump;

/** Told how far a dump has got; a dump of a large guest takes seconds, and a user wants to see it move. */
@FunctionalInterface
public interface DumpProgress {
    DumpProgress NONE = (written, total) -> {};

    /**
     * Called after each chunk of guest memory and once at the end (then {@code bytesDone == bytesTotal}).
     * Runs on the dumping thread, while the guest is held: keep it short.
     *
     * @param bytesDone  guest memory dumped so far (holes included)
     * @param bytesTotal all the guest memory the dump holds
     */
    void progressed(long bytesDone, long bytesTotal);
}
