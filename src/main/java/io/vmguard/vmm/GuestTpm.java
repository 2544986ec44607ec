package io.vmguard.vmm;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.arch.x86.acpi.Tpm2;
import io.vmguard.bus.Bus;
import io.vmguard.devices.tpm.TpmBackend;
import io.vmguard.devices.tpm.TpmCrb;
import io.vmguard.memory.GuestMemory;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.tpm.EventLog;
import io.vmguard.tpm.MeasuredBoot;
import io.vmguard.tpm.Swtpm;
import io.vmguard.tpm.TpmException;
import io.vmguard.tpm.TpmState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The guest's TPM, wired: a swtpm process, the CRB device on the MMIO bus in front of it, and the ACPI
 * description. A boot powers the TPM on and measures the kernel, initrd and command line into it before
 * the first instruction, with the event log in guest memory; a restore puts the snapshot's TPM state into
 * a fresh swtpm. Closed with the VM: the device's thread stops and swtpm ends.
 */
final class GuestTpm implements AutoCloseable {
    /** A command in flight when a snapshot is asked for gets this long to finish. */
    private static final long QUIESCE_MILLIS = 5000;
    static final Tpm2 ACPI = new Tpm2(TpmCrb.BASE, TpmCrb.SIZE, TpmCrb.CONTROL_AREA, X86Layout.TPM_EVENT_LOG,
            X86Layout.TPM_EVENT_LOG_SIZE);

    private final Swtpm swtpm;
    private final TpmCrb device;
    /** A state directory this object made (a restore without --tpm) and deletes when closed; else null. */
    private final Path temporaryState;
    /** What the boot measured (empty for a restored TPM: its boot was measured before the snapshot). */
    private final java.util.Optional<EventLog> measured;

    private GuestTpm(Swtpm swtpm, TpmCrb device, Path temporaryState, java.util.Optional<EventLog> measured) {
        this.swtpm = swtpm;
        this.device = device;
        this.temporaryState = temporaryState;
        this.measured = measured;
    }

    /** Starts swtpm over {@code settings}' state, measures this boot into it, writes the log, attaches the device. */
    static GuestTpm boot(TpmSettings settings, VmConfig config, GuestMemory memory, Bus mmio) throws VmException {
        EventLog log;
        try {
            log = MeasuredBoot.plan(config.kernel(), config.initrd(), config.commandLine());
        } catch (IOException e) {
            throw new VmException("cannot measure the boot: " + e.getMessage(), e);
        }
        byte[] logBytes = log.bytes();
        if (logBytes.length > X86Layout.TPM_EVENT_LOG_SIZE) {
            throw new VmException("the TPM event log (" + logBytes.length + " bytes) does not fit its area");
        }
        Swtpm swtpm = start(settings.stateDirectory());
        try {
            swtpm.powerOn();
            MeasuredBoot.perform(swtpm::execute, log);
        } catch (TpmException | IOException e) {
            swtpm.close();
            throw new VmException("TPM: " + e.getMessage(), e);
        }
        memory.fill(X86Layout.TPM_EVENT_LOG, X86Layout.TPM_EVENT_LOG_SIZE, (byte) 0); // parsing stops at the first zero event
        memory.write(X86Layout.TPM_EVENT_LOG, logBytes);
        return attach(swtpm, mmio, null, java.util.Optional.of(log));
    }

    /**
     * Rebuilds a snapshot's TPM: a fresh swtpm over {@code settings}' directory (whose state the snapshot's
     * replaces, and which keeps what the guest does from here on), or over a private temporary one when there
     * are none (the snapshot carries the whole TPM), given the saved state and started.
     */
    static GuestTpm restore(TpmSettings settings, StateReader in, Bus mmio) throws VmException, SnapshotException {
        TpmState state = new TpmState(in.getBytes("permanent"), in.getBytes("volatile"));
        Path temporary = null;
        Path directory;
        if (settings != null) {
            directory = settings.stateDirectory();
        } else {
            try {
                temporary = Files.createTempDirectory("vmguard-tpm-", PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwx------")));
            } catch (IOException e) {
                throw new VmException("cannot make a TPM state directory: " + e.getMessage(), e);
            }
            directory = temporary;
        }
        Swtpm swtpm;
        try {
            swtpm = start(directory);
        } catch (VmException e) {
            deleteTree(temporary);
            throw e;
        }
        try {
            swtpm.restoreState(state);
        } catch (TpmException e) {
            swtpm.close();
            deleteTree(temporary);
            throw new SnapshotException("snapshot field tpm: " + e.getMessage());
        }
        GuestTpm tpm = attach(swtpm, mmio, temporary, java.util.Optional.empty());
        tpm.device.restoreState(in.child("crb"));
        return tpm;
    }

    private static Swtpm start(Path directory) throws VmException {
        try {
            return Swtpm.start(directory);
        } catch (TpmException e) {
            throw new VmException(e.getMessage(), e);
        }
    }

    private static GuestTpm attach(Swtpm swtpm, Bus mmio, Path temporaryState, java.util.Optional<EventLog> measured) {
        TpmCrb device = new TpmCrb(new TpmBackend() {
            @Override
            public byte[] execute(byte[] command) throws IOException {
                return swtpm.execute(command);
            }

            @Override
            public void cancel() throws IOException {
                swtpm.cancel();
            }
        });
        mmio.register(TpmCrb.RANGE, device);
        return new GuestTpm(swtpm, device, temporaryState, measured);
    }

    /** The CRB registers and swtpm's state blobs; waits for a command in flight to finish first. */
    void saveState(StateWriter out) throws VmException {
        try {
            if (!device.awaitIdle(QUIESCE_MILLIS)) {
                throw new VmException("the TPM is still working on a command after " + QUIESCE_MILLIS + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmException("interrupted while waiting for the TPM");
        }
        TpmState state;
        try {
            state = swtpm.saveState();
        } catch (TpmException e) {
            throw new VmException(e.getMessage(), e);
        }
        out.save("crb", device);
        out.putBytes("permanent", state.permanent()).putBytes("volatile", state.volatileState());
    }

    /**
     * For the boot-measured event: the SHA-256 PCR values the measured boot left (0, 8 and 9, hexadecimal),
     * which a verifier compares with a quote from the guest. Empty for a restored TPM.
     */
    java.util.Map<String, Object> measurements() {
        if (measured.isEmpty()) {
            return java.util.Map.of();
        }
        byte[][] pcrs = measured.get().replay();
        java.util.HexFormat hex = java.util.HexFormat.of();
        return java.util.Map.of("pcr0", hex.formatHex(pcrs[MeasuredBoot.PCR_CRTM]),
                "pcr8", hex.formatHex(pcrs[MeasuredBoot.PCR_COMMAND_LINE]),
                "pcr9", hex.formatHex(pcrs[MeasuredBoot.PCR_KERNEL]));
    }

    /** swtpm's process id. */
    long pid() {
        return swtpm.pid();
    }

    @Override
    public void close() {
        device.close();
        swtpm.close();
        deleteTree(temporaryState);
    }

    private static void deleteTree(Path directory) {
        if (directory == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            // a temporary directory left behind is no failure
        }
    }
}
