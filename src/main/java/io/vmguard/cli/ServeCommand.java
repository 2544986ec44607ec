package io.vmguard.cli;

import io.vmguard.api.ApiContext;
import io.vmguard.api.ApiEndpoints;
import io.vmguard.api.ApiServer;
import io.vmguard.api.Instance;
import io.vmguard.events.GuestLog;
import io.vmguard.sched.HostScheduling;
import io.vmguard.sched.ThreadPlacer;
import io.vmguard.vmm.Engines;
import io.vmguard.vmm.RunOutcome;
import io.vmguard.vmm.SerialTarget;
import io.vmguard.vmm.Vm;
import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code vmguard serve}: starts with no VM and is configured through the API, as Firecracker is
 * (boot-source, machine-config, drives, network-interfaces, then InstanceStart; or snapshot/load). Exits
 * when the VM ends, with the status {@code vmguard run} would give, or on SIGTERM.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve the control API with no VM yet; the VM is configured and started through it.")
public final class ServeCommand implements Callable<Integer> {
    /** How long a SIGTERM waits for the VM's devices to flush and the server to close. */
    private static final long SHUTDOWN_MILLIS = 3000;

    @Mixin
    ApiOptions api;

    @Option(names = "--engine", paramLabel = "NAME", defaultValue = Engines.DEFAULT,
            description = "interp or kvm (default ${DEFAULT-VALUE})")
    String engine;

    @Option(names = "--serial", paramLabel = "TARGET", defaultValue = "stdio",
            description = "serial console: stdio, file:PATH or null (default ${DEFAULT-VALUE})")
    String serial;

    @Mixin
    EventOptions vmEvents;

    @Mixin
    VmiOptions vmi;

    @Mixin
    AvOptions av;

    @Mixin
    ProtectionOptions protection;

    @Mixin
    SchedulingOptions scheduling;

    @Override
    public Integer call() throws CliException {
        ApiEndpoints endpoints = api.endpoints();
        if (!endpoints.any()) {
            throw new CliException("serve needs --api-sock PATH (or --api-tcp HOST:PORT with --api-token-file)");
        }
        HostScheduling hostScheduling = scheduling.settings();
        try {
            io.vmguard.vmm.HostHardening.apply(); // before any guest exists: no dump or same-user ptrace of this process
            hostScheduling.applyCgroup();
        } catch (io.vmguard.vmm.VmException | IOException e) {
            throw new CliException(e.getMessage());
        }
        SerialTarget serialTarget;
        try {
            serialTarget = SerialTarget.parse(serial);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        if (!Engines.NAMES.contains(engine)) {
            throw new CliException("unknown engine '" + engine + "' (choose one of " + String.join(", ", Engines.NAMES) + ")");
        }
        try (VmEventsSetup setup = vmEvents.open()) {
            io.vmguard.vmm.GuestProtection guarded = protection.protection();
            Instance instance = Instance.configurable(new Instance.Launch(vmEvents.id, engine, serialTarget, setup.events(),
                    vmi.settings(), av.settings(), guarded));
            ApiServer server;
            try {
                server = ApiServer.start(endpoints, new ApiContext(instance, setup.hub(), setup.events()));
            } catch (IOException e) {
                throw new CliException(e.getMessage());
            }
            server.warmUp(engine);
            // A snapshot, restore or sealed dump through the API then finds the owner's swtpm started already,
            // and a lazy sealed restore its decrypting helper.
            guarded.seal().ifPresent(owner -> {
                owner.keepStandby();
                io.vmguard.seal.SealedMemoryImage.keepHelperOnStandby(guarded.memoryBackend());
            });
            CountDownLatch finished = new CountDownLatch(1);
            Thread onSignal = new Thread(() -> {
                instance.stop("vmguard was terminated by a signal");
                try {
                    if (instance.vm().isPresent()) { // its devices flush as the main thread ends the run
                        finished.await(SHUTDOWN_MILLIS, TimeUnit.MILLISECONDS);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                server.close(); // removes the socket file even if the VM never started
            }, "vmguard-shutdown");
            Runtime.getRuntime().addShutdownHook(onSignal);
            try (server; instance; ThreadPlacer placer = new ThreadPlacer(hostScheduling.policy())) {
                RunCommand.placeThreads(placer); // the threads there are now; a VM's threads as they start
                return serveUntilTheVmEnds(instance, placer);
            } finally {
                finished.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(onSignal);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running: it finds the latch counted down and closes the (closed) server
                }
            }
        }
    }

    private static int serveUntilTheVmEnds(Instance instance, ThreadPlacer placer) throws CliException {
        try {
            Vm vm = instance.booted().get();
            RunCommand.placeThreads(placer::placeNew); // at once, not at the placer's next look
            RunOutcome outcome = vm.awaitOutcome();
            GuestLog log = GuestLog.current();
            if (log.suppressed() > 0) {
                System.err.println("vmguard: " + log.suppressed() + " guest-triggered log lines were suppressed (rate limit)");
            }
            return RunCommand.report(outcome, RunCommand.guestScript(vm.config().commandLine()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        } catch (ExecutionException e) {
            throw new CliException(String.valueOf(e.getCause()));
        }
    }
}
