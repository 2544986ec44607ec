package io.vmguard.vmm;

import io.vmguard.av.Scanner;
import io.vmguard.av.SignatureDatabase;
import io.vmguard.av.runtime.CodeScanner;
import io.vmguard.av.runtime.CodeSweeper;
import io.vmguard.av.runtime.ProcessNamer;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.engine.monitor.TrapKind;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.vmi.GuestPhysicalMemory;
import io.vmguard.vmi.VmiException;
import io.vmguard.vmi.linux.KernelCache;
import io.vmguard.vmi.linux.LinuxKernel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A running VM's antivirus: wires the runtime scanner of {@code av} to the {@link Vm}. Where the engine traps
 * first executions (the interpreter) every code page is scanned before it runs; elsewhere (KVM) executable
 * pages are swept periodically, which can only report code after it started running.
 */
public final class Antivirus implements AutoCloseable {
    /** How often the process namer retries finding the guest kernel until it has (it appears once init runs). */
    private static final long KERNEL_POLL_MILLIS = 500;

    private final AntivirusSettings settings;
    private final SignatureDatabase database;
    private final CodeScanner scanner;
    private final CodeSweeper sweeper;
    private final KernelFinder kernel;

    private Antivirus(Vm vm, VmEvents events, AntivirusSettings settings) {
        this.settings = settings;
        this.database = settings.database().orElseThrow();
        Scanner engine = new Scanner(database);
        this.kernel = new KernelFinder(vm);
        ProcessNamer namer = kernel::processFor;
        Optional<Monitoring> monitoring = vm.monitoring("av")
                .filter(m -> m.traps().contains(TrapKind.CODE_EXECUTION));
        if (monitoring.isPresent()) {
            scanner = new CodeScanner(engine, database.signatureCount(), monitoring.get(),
                    new GuestPhysicalMemory(vm.memory()), namer, events,
                    () -> vm.pauseFromGuestEvent("antivirus signature match"), settings.action());
            sweeper = null;
        } else {
            scanner = null;
            sweeper = new CodeSweeper(engine, new VmInspector(vm), events,
                    () -> vm.pauseFromGuestEvent("antivirus signature match"), settings.action(),
                    settings.sweepPeriod());
        }
        events.emit(Source.AV, "scanning-started", Severity.INFO, Map.of(
                "signatures", database.signatureCount(),
                "mode", scanner != null ? "before-execution" : "periodic-sweep",
                "action", settings.action().name().toLowerCase(java.util.Locale.ROOT)));
    }

    /**
     * Starts scanning the VM's code as {@code settings} say (before it starts, so that no code runs unscanned);
     * null when they ask for no scanning.
     */
    static Antivirus attach(Vm vm, VmEvents events, AntivirusSettings settings) {
        if (!settings.enabled()) {
            return null;
        }
        Antivirus antivirus = new Antivirus(vm, events, settings);
        if (antivirus.scanner != null) {
            antivirus.scanner.start();
            antivirus.kernel.start(); // the sweeper reads the kernel itself, with the vCPUs held
        } else {
            antivirus.sweeper.start();
        }
        return antivirus;
    }

    public Map<String, Object> status() {
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("signatures", database.signatureCount());
        status.put("action", settings.action().name().toLowerCase(java.util.Locale.ROOT));
        if (scanner != null) {
            status.put("mode", "before-execution");
            status.put("scanner", scanner.status());
        } else {
            status.put("mode", "periodic-sweep");
            status.put("sweeper", sweeper.status());
        }
        return status;
    }

    /** The runtime scanner's figures, when the engine traps first executions. */
    public Optional<CodeScanner.Status> scannerStatus() {
        return Optional.ofNullable(scanner).map(CodeScanner::status);
    }

    @Override
    public void close() {
        kernel.close();
        if (scanner != null) {
            scanner.close();
        }
        if (sweeper != null) {
            sweeper.close();
        }
    }

    /**
     * Finds the guest kernel once it can be found (on its own thread, holding the VM briefly), so that the
     * scanner can name a process from the vCPU thread by reading guest memory, without waiting for the VM.
     */
    private static final class KernelFinder implements AutoCloseable {
        private final Vm vm;
        private final KernelCache cache = new KernelCache();
        private volatile LinuxKernel kernel;
        private volatile boolean closed;
        private Thread thread;

        KernelFinder(Vm vm) {
            this.vm = vm;
        }

        void start() {
            thread = Thread.ofPlatform().name("av-kernel-finder").daemon().start(this::find);
        }

        private void find() {
            while (!closed && kernel == null) {
                switch (vm.state()) {
                    case STOPPED -> {
                        return;
                    }
                    case NOT_STARTED -> { } // attached before the start: wait for it
                    case RUNNING, PAUSED -> {
                        try {
                            kernel = vm.inspect(view -> {
                                try {
                                    return LinuxKernel.open(view, cache);
                                } catch (VmiException e) {
                                    return null; // not yet: early boot, before the kernel's structures are set up
                                }
                            });
                        } catch (VmException e) {
                            // Stopped meanwhile (the next turn ends), or a vCPU slow to pause: try again. Deciding
                            // by the state read here instead once ended the search for good when the VM started
                            // between the "not started" refusal and that read, and its events named no process.
                        }
                    }
                }
                if (kernel == null) {
                    try {
                        Thread.sleep(KERNEL_POLL_MILLIS);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        }

        Optional<ProcessNamer.GuestProcess> processFor(long cr3) {
            LinuxKernel found = kernel;
            if (found == null) {
                return Optional.empty();
            }
            try {
                return found.processForCr3(cr3).map(task -> new ProcessNamer.GuestProcess(task.tgid(), task.comm()));
            } catch (VmiException e) {
                return Optional.empty(); // the guest's lists are mid-change or garbage: the event goes without a name
            }
        }

        @Override
        public void close() {
            closed = true;
            if (thread != null) {
                thread.interrupt();
            }
        }
    }
}
