package io.vmguard.cli;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.api.ApiContext;
import io.vmguard.api.ApiEndpoints;
import io.vmguard.api.ApiServer;
import io.vmguard.api.Instance;
import io.vmguard.api.PreBootConfig;
import io.vmguard.events.GuestLog;
import io.vmguard.net.NetSpec;
import io.vmguard.virtio.block.DiskConfig;
import io.vmguard.vmm.AntivirusSettings;
import io.vmguard.vmm.Engines;
import io.vmguard.vmm.GuestProtection;
import io.vmguard.vmm.HostHardening;
import io.vmguard.vmm.RunOutcome;
import io.vmguard.vmm.SerialTarget;
import io.vmguard.vmm.VirtioTransport;
import io.vmguard.vmm.IntrospectionSettings;
import io.vmguard.vmm.Vm;
import io.vmguard.vmm.VmConfig;
import io.vmguard.sched.HostScheduling;
import io.vmguard.sched.ThreadPlacer;
import io.vmguard.sys.NativeException;
import io.vmguard.vmm.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "run", description = "Boot a Linux guest. With no --kernel, boots the guest image built from guest/.",
        mixinStandardHelpOptions = true)
public final class RunCommand implements Callable<Integer> {
    /** The command line the built guest image boots with; --append adds to it. */
    public static final String DEFAULT_COMMAND_LINE = PreBootConfig.DEFAULT_BOOT_ARGS;
    private static final Pattern GUEST_SCRIPT = Pattern.compile("(?:^|\\s)vmguard\\.run=(\\S+)");

    @Option(names = "--kernel", paramLabel = "FILE", description = "vmlinux (ELF) or bzImage")
    Path kernel;

    @Option(names = "--initrd", paramLabel = "FILE", description = "initial ramdisk")
    Path initrd;

    @Option(names = "--cmdline", paramLabel = "TEXT", description = "kernel command line (replaces the default)")
    String commandLine;

    @Option(names = "--append", paramLabel = "TEXT", description = "added to the kernel command line")
    String append;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1",
            description = "vCPUs, one host thread each (default ${DEFAULT-VALUE}; at most " + VmConfig.MAX_VCPUS + ")")
    int cpus;

    @Option(names = "--memory", paramLabel = "SIZE", defaultValue = "256M", description = "guest RAM (default ${DEFAULT-VALUE})")
    String memory;

    @Option(names = "--engine", paramLabel = "NAME", defaultValue = Engines.DEFAULT,
            description = "interp or kvm (default ${DEFAULT-VALUE})")
    String engine;

    @Option(names = "--jit", paramLabel = "on|off",
            description = "the interpreter compiles hot guest code to JVM bytecode (default: on; see docs/jit.md)")
    String jit;

    @Option(names = "--stats", paramLabel = "FILE",
            description = "write the run's cost as JSON: outcome, wall time, guest instructions (interpreter)")
    Path stats;

    @Option(names = "--profile", paramLabel = "FILE",
            description = "sample every vCPU's guest RIP each millisecond and write where the time went, most first "
                    + "(interpreter; by kernel function with --profile-symbols; with --serial file:PATH the counts start "
                    + "when the guest prints its ready marker, so boot is left out, or at --profile-from)")
    Path profile;

    @Option(names = "--profile-from", paramLabel = "TEXT",
            description = "with --profile and --serial file:PATH: the counts start when the serial log first shows TEXT "
                    + "(a kernel line such as 'Unpacking initramfs'; default: the guest's ready marker)")
    String profileFrom;

    @Option(names = "--profile-until", paramLabel = "TEXT",
            description = "with --profile and --serial file:PATH: the counts stop when the serial log first shows TEXT "
                    + "after the start (default: the end of the run)")
    String profileUntil;

    @Option(names = "--profile-symbols", paramLabel = "SYSTEM_MAP",
            description = "the guest kernel's System.map, to name the functions in --profile's report")
    Path profileSymbols;

    @Option(names = "--serial", paramLabel = "TARGET", defaultValue = "stdio",
            description = "serial console: stdio, file:PATH or null (default ${DEFAULT-VALUE})")
    String serial;

    @Option(names = "--disk", paramLabel = "FILE[,readonly]",
            description = "a raw disk image as virtio-blk (repeatable; the guest sees vda, vdb, ... in this order)")
    List<String> disks = new ArrayList<>();

    @Option(names = "--net", paramLabel = "BACKEND",
            description = "a network card (repeatable): socket:LOCAL_PATH,PEER_PATH[,mac=MAC][,model=virtio|e1000] (unprivileged, "
                    + "one Ethernet frame per datagram) or tap:IFNAME[,mac=MAC][,model=virtio|e1000]; model e1000 is an "
                    + "emulated Intel 82540EM, default virtio-net")
    List<String> nets = new ArrayList<>();

    @Option(names = "--console", paramLabel = "TARGET", defaultValue = "off",
            description = "virtio console hvc0: off, stdio, file:PATH or null (default ${DEFAULT-VALUE})")
    String console;

    @Option(names = "--virtio-transport", paramLabel = "pci|mmio", defaultValue = "pci",
            description = "how virtio devices reach the guest: PCI functions with MSI-X, or virtio-mmio windows "
                    + "(default ${DEFAULT-VALUE})")
    String virtioTransport;

    @Option(names = "--iommu", paramLabel = "on|off", defaultValue = "on",
            description = "every device's DMA through a virtio-iommu, so a device reaches only what the guest mapped for it "
                    + "(default ${DEFAULT-VALUE}; the guest kernel needs CONFIG_VIRTIO_IOMMU)")
    String iommu;

    @Option(names = "--dma-test-device",
            description = "add a PCI DMA test device (1234:11e9) the guest can aim at any bus address: for testing isolation")
    boolean dmaTestDevice;

    @Mixin
    EventOptions vmEvents;

    @Mixin
    ApiOptions api;

    @Mixin
    VmiOptions vmi;

    @Mixin
    AvOptions av;

    @Mixin
    ProtectionOptions protection;

    @Mixin
    SchedulingOptions scheduling;

    private HostScheduling hostScheduling = HostScheduling.NONE;

    private GuestProtection guestProtection;

    @Override
    public Integer call() throws CliException {
        ApiEndpoints endpoints = api.endpoints();
        IntrospectionSettings introspection = vmi.settings();
        VmConfig config = config();
        AntivirusSettings scanning = av.settings();
        guestProtection = protection.protection();
        hostScheduling = scheduling.settings();
        try {
            HostHardening.apply();
            hostScheduling.applyCgroup();
        } catch (VmException | IOException e) {
            throw new CliException(e.getMessage());
        }
        try (VmEventsSetup setup = vmEvents.open()) {
            return run(config, setup, endpoints, introspection, scanning);
        }
    }

    /** The API serving {@code vm}, or null (nothing to close) when no endpoint was asked for. */
    private ApiServer serve(Vm vm, VmEventsSetup setup, ApiEndpoints endpoints) throws CliException {
        if (!endpoints.any()) {
            return null;
        }
        Instance instance = Instance.serving(new Instance.Launch(vmEvents.id, engine, vm.config().serial(), setup.events(),
                io.vmguard.vmm.IntrospectionSettings.defaults(), io.vmguard.vmm.AntivirusSettings.off(), guestProtection), vm);
        // A sealed snapshot or dump may be asked for at any time: the owner's swtpm waits on standby, and the
        // sealing crypto (the session's ECDH, AES-GCM) is warmed in the background rather than in the request.
        guestProtection.seal().ifPresent(owner -> {
            owner.keepStandby();
            Thread.ofPlatform().name("seal-warm-up").daemon().priority(Thread.MIN_PRIORITY).start(() -> {
                io.vmguard.tpm.SessionCrypto.warmUp();
                io.vmguard.seal.SealedMemoryImage.warmUp();
            });
        });
        try {
            return ApiServer.start(endpoints, new ApiContext(instance, setup.hub(), setup.events()));
        } catch (IOException e) {
            throw new CliException(e.getMessage());
        }
    }

    /** --jit as given (null when absent: the engine's default); anything but on or off is a usage error. */
    private Boolean jitSwitch() throws CliException {
        if (jit == null) {
            return null;
        }
        try {
            return io.vmguard.engine.interp.jit.JitOptions.parseSwitch(jit, true);
        } catch (IllegalArgumentException e) {
            throw new CliException("--jit takes on or off, not '" + jit + "'");
        }
    }

    @SuppressWarnings("try") // the API server only has to live exactly as long as the run
    private int run(VmConfig config, VmEventsSetup setup, ApiEndpoints endpoints, IntrospectionSettings introspection,
                    AntivirusSettings scanning) throws CliException {
        Engine selected;
        try {
            selected = Engines.create(config.engine(), jitSwitch());
        } catch (EngineException e) {
            throw new CliException(e.getMessage());
        }
        Optional<io.vmguard.vmi.linux.SymbolTable> symbols = profileSymbols();
        io.vmguard.vmm.GuestProfiler.Profile sampled = null;
        RunOutcome outcome;
        long started = System.nanoTime();
        java.util.OptionalLong instructions;
        java.util.Map<String, io.vmguard.virtio.DeviceCounters> devices;
        java.util.Map<String, io.vmguard.net.FrameLatency.Snapshot> netLatency;
        java.util.Map<String, io.vmguard.net.NetCounters> netBackends;
        try (Vm vm = Vm.create(config, selected, setup.events(), guestProtection); ApiServer server = serve(vm, setup, endpoints);
             ThreadPlacer placer = new ThreadPlacer(hostScheduling.policy())) {
            vm.attachAntivirus(scanning);
            vm.start();
            placeThreads(placer);
            io.vmguard.vmm.GuestProfiler profiler = profile != null ? vm.startProfiler(java.time.Duration.ofMillis(1)) : null;
            if (profiler != null && config.serial() instanceof SerialTarget.File(Path log)) {
                SerialLogWatch.start(log, profileWindow(profiler));
            }
            vm.attachIntrospection(introspection);
            outcome = vm.awaitOutcome();
            if (profiler != null) {
                sampled = profiler.stop();
            }
            instructions = vm.instructionsExecuted();
            devices = vm.deviceCounters();
            netLatency = vm.netLatency();
            netBackends = vm.netBackends();
        } catch (VmException e) {
            throw new CliException(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
        GuestLog log = GuestLog.current();
        if (log.suppressed() > 0) { // before the verdict, which stays the last line
            System.err.println("vmguard: " + log.suppressed() + " guest-triggered log lines were suppressed (rate limit)");
        }
        int status = report(outcome, guestScript(config.commandLine()));
        if (stats != null) {
            new RunStats(selected.name(), outcome, status, System.nanoTime() - started, instructions, log.printed(),
                    log.suppressed(), devices, netLatency, netBackends).writeTo(stats);
        }
        if (sampled != null) {
            writeProfile(sampled, symbols);
        }
        return status;
    }

    /** The serial log lines that open and (with --profile-until) close the profile's window. */
    private List<SerialLogWatch.Sighting> profileWindow(io.vmguard.vmm.GuestProfiler profiler) {
        var start = new SerialLogWatch.Sighting(profileFrom != null ? profileFrom : SerialLogWatch.READY_MARKER, profiler::restart);
        return profileUntil == null ? List.of(start) : List.of(start, new SerialLogWatch.Sighting(profileUntil, profiler::stop));
    }

    /** The System.map --profile-symbols names, read before the run so a bad file fails at once. */
    private Optional<io.vmguard.vmi.linux.SymbolTable> profileSymbols() throws CliException {
        if (profile != null && !engine.equals("interp")) {
            throw new CliException("--profile needs the interpreter (--engine interp): KVM runs guest code where no RIP can be sampled");
        }
        if ((profileFrom != null || profileUntil != null) && (profile == null || !serial.startsWith("file:"))) {
            throw new CliException("--profile-from and --profile-until need --profile and --serial file:PATH (they watch its log)");
        }
        if ("".equals(profileFrom) || "".equals(profileUntil)) {
            throw new CliException("--profile-from and --profile-until need a text to watch for");
        }
        if (profileSymbols == null) {
            return Optional.empty();
        }
        if (profile == null) {
            throw new CliException("--profile-symbols needs --profile");
        }
        try {
            return Optional.of(io.vmguard.vmi.linux.SystemMap.read(profileSymbols));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new CliException("--profile-symbols " + profileSymbols + ": no such file");
        } catch (java.io.IOException | io.vmguard.vmi.VmiException e) {
            throw new CliException("cannot read --profile-symbols " + profileSymbols + ": " + e.getMessage());
        }
    }

    private void writeProfile(io.vmguard.vmm.GuestProfiler.Profile sampled, Optional<io.vmguard.vmi.linux.SymbolTable> symbols)
            throws CliException {
        try {
            java.nio.file.Files.writeString(profile, ProfileReport.render(sampled, symbols));
        } catch (java.io.IOException e) {
            throw new CliException("cannot write the profile to " + profile + ": " + e.getMessage());
        }
    }

    /** Puts the VM's threads (the vCPUs now started, the devices' I/O threads) where --cpu-affinity and the rest say. */
    static void placeThreads(ThreadPlacer placer) throws CliException {
        placeThreads(placer::start);
    }

    /** Runs one placement step; a refusal by the host is a one-line error. */
    static void placeThreads(Placement step) throws CliException {
        try {
            step.run();
        } catch (NativeException | IOException e) {
            throw new CliException("cannot schedule the VM's threads as asked: " + e.getMessage());
        }
    }

    /** A placement step that the host may refuse. */
    @FunctionalInterface
    interface Placement {
        void run() throws NativeException, IOException;
    }

    private VmConfig config() throws CliException {
        long memoryBytes;
        SerialTarget serialTarget;
        Optional<SerialTarget> consoleTarget;
        VirtioTransport transport;
        boolean iommuOn;
        List<DiskConfig> diskConfigs = new ArrayList<>();
        List<NetSpec> netSpecs = new ArrayList<>();
        try {
            memoryBytes = ByteSize.parse(memory);
            serialTarget = SerialTarget.parse(serial);
            consoleTarget = console.equals("off") ? Optional.empty() : Optional.of(SerialTarget.parse(console));
            transport = VirtioTransport.parse(virtioTransport);
            iommuOn = switch (iommu) {
                case "on" -> true;
                case "off" -> false;
                default -> throw new IllegalArgumentException("--iommu must be on or off, not '" + iommu + "'");
            };
            for (String disk : disks) {
                diskConfigs.add(DiskConfig.parse(disk));
            }
            for (String net : nets) {
                netSpecs.add(NetSpec.parse(net));
            }
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        if (serialTarget instanceof SerialTarget.Stdio && consoleTarget.orElse(null) instanceof SerialTarget.Stdio) {
            throw new CliException("--serial and --console cannot both be stdio (one terminal, one input)");
        }
        Path kernelFile = kernel;
        Path initrdFile = initrd;
        String line = commandLine;
        if (kernelFile == null) {
            GuestImage image = GuestImage.locateOrBuild();
            kernelFile = image.vmlinux();
            initrdFile = initrdFile == null ? image.initramfs() : initrdFile;
        }
        if (line == null) {
            line = DEFAULT_COMMAND_LINE;
        }
        if (append != null && !append.isBlank()) {
            line = line + " " + append.strip();
        }
        jitSwitch(); // a bad --jit is a usage error before anything is loaded
        if (cpus < 1 || cpus > VmConfig.MAX_VCPUS) {
            throw new CliException("--cpus takes 1 to " + VmConfig.MAX_VCPUS + ", not " + cpus);
        }
        requireFile(kernelFile, "kernel");
        if (initrdFile != null) {
            requireFile(initrdFile, "initrd");
        }
        return new VmConfig(kernelFile, initrdFile, line, memoryBytes, engine, serialTarget, diskConfigs, netSpecs,
                consoleTarget, transport, iommuOn, dmaTestDevice, cpus);
    }

    private static void requireFile(Path file, String what) throws CliException {
        if (!Files.isRegularFile(file)) {
            throw new CliException(what + " " + file + (Files.exists(file) ? " is not a regular file" : " not found"));
        }
    }

    /** The guest script requested with vmguard.run=NAME, or null. */
    static String guestScript(String commandLine) {
        Matcher matcher = GUEST_SCRIPT.matcher(commandLine);
        String last = null;
        while (matcher.find()) {
            last = matcher.group(1);
        }
        return last;
    }

    /**
     * Maps the outcome to an exit status. A guest asked to run a script reports its verdict through the
     * exit port; if it resets or fails instead (a panic reboots with panic=-1), that is a failure.
     */
    static int report(RunOutcome outcome, String guestScript) {
        return switch (outcome) {
            case RunOutcome.PoweredOff off -> off.status();
            case RunOutcome.Reset reset when guestScript != null -> {
                System.err.println("vmguard: guest reset (" + reset.reason() + ") before guest script '" + guestScript
                        + "' reported a result");
                yield 1;
            }
            case RunOutcome.Reset reset -> 0;
            case RunOutcome.Failed failed -> {
                System.err.println("vmguard: " + failed.reason());
                yield 1;
            }
        };
    }
}
