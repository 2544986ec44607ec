package io.vmguard.memory;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * Guest RAM still being filled after the VM may run (a sealed snapshot restored post-copy style): pages
 * arrive on first touch and in the background. Whoever owns the VM learns when it is complete or failed.
 */
public interface LazyFill extends AutoCloseable {
    /** Whether every page holds its content: then a page never touched reads as zero again. */
    boolean complete();

    /** Waits until {@link #complete()} or failed; true when complete. */
    boolean awaitComplete(Duration timeout) throws InterruptedException;

    /** Why filling failed, once it has (a page that cannot be filled: the VM must not go on), else null. */
    String failure();

    /** Runs {@code action} with the failure's one-line reason when filling fails (at once if it has already). */
    void onFailure(Consumer<String> action);

    /** Stops filling: what is still missing reads as zero from now on. Called before the memory is unmapped. */
    @Override
    void close();
}
