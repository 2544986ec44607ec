package io.vmguard.testing;

import io.vmguard.engine.VcpuExit;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * A vCPU's work on a platform thread of its own, named as a VMM's vCPU thread is, with its exit (or what it
 * threw) as a future: for tests that pause, kick or interrupt a running vCPU from the test's thread.
 */
public record VcpuThread(Thread thread, CompletableFuture<VcpuExit> exit) {
    public static VcpuThread start(Callable<VcpuExit> work) {
        CompletableFuture<VcpuExit> exit = new CompletableFuture<>();
        Thread thread = Thread.ofPlatform().name("vcpu-0").start(() -> {
            try {
                exit.complete(work.call());
            } catch (Throwable t) {
                exit.completeExceptionally(t);
            }
        });
        return new VcpuThread(thread, exit);
    }

    public void join() throws InterruptedException {
        thread.join();
    }
}
