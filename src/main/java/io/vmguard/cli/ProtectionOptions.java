package io.vmguard.cli;

import io.vmguard.memory.MemoryBackend;
import io.vmguard.seal.PcrSelection;
import io.vmguard.seal.SealException;
import io.vmguard.seal.SealingTpm;
import io.vmguard.vmm.GuestProtection;
import io.vmguard.vmm.TpmSettings;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * What protects the guest (issue 16): {@code --tpm DIR}, {@code --memory-backend}, and the sealing TPM: the owner's
 * swtpm ({@code --seal DIR}) or the host's TPM device ({@code --seal-device /dev/tpmrm0}).
 */
public final class ProtectionOptions {
    @Option(names = "--tpm", paramLabel = "DIR",
            description = "give the guest a TPM 2.0 (CRB, /dev/tpm0) backed by swtpm with its state in DIR (made 0700 and "
                    + "manufactured on first use); the kernel, initrd and command line are measured into PCRs 9 and 8 before boot. "
                    + "Needs Debian's swtpm and swtpm-tools")
    Path directory;

    @Option(names = "--memory-backend", paramLabel = "anonymous|secret", defaultValue = "anonymous",
            description = "what backs guest RAM: anonymous memory (default), or memfd_secret, out of the kernel's direct map so "
                    + "that no other process (root's /proc/PID/mem, ptrace) reads it; interpreter only. Either way guest RAM "
                    + "is left out of core dumps and vmguard is not dumpable")
    String memoryBackend;

    @Option(names = "--seal", paramLabel = "DIR",
            description = "seal snapshots: memory and state files encrypted (AES-256-GCM) with a fresh key per snapshot that the "
                    + "owner's own TPM (a swtpm with its state in DIR, never the guest's) seals, bound to the authorisation value "
                    + "in the environment variable " + AUTH_VARIABLE + " (empty if unset); restoring needs the same DIR and value. "
                    + "vmi dumps are written sealed the same way (vmi unseal-dump opens them)")
    Path seal;

    @Option(names = "--seal-device", paramLabel = "PATH",
            description = "seal as --seal does, with the TPM behind the character device PATH instead of a swtpm: the host's "
                    + "/dev/tpmrm0 (the kernel's resource manager), whose seed never leaves the chip; --seal-pcrs then binds keys to "
                    + "the host's own boot measurements. vmguard's user needs the device (group tss, or root). Not with --seal")
    Path sealDevice;

    @Option(names = "--seal-pcrs", paramLabel = "N,N",
            description = "with --seal: bind each sealed key to a policy as well, TPM2_PolicyPCR over these SHA-256 PCRs (0-15) of "
                    + "the owner's TPM as they are at sealing, with PolicyAuthValue; extending one of them locks the key out. "
                    + "Default none: the authorisation value alone")
    String sealPcrs = "";

    /** Where the owner's authorisation value for sealed snapshots comes from: never the command line, which ps shows. */
    static final String AUTH_VARIABLE = "VMGUARD_SEAL_AUTH";

    GuestProtection protection() throws CliException {
        try {
            int pcrs = PcrSelection.parse(sealPcrs);
            if (seal != null && sealDevice != null) {
                throw new CliException("--seal DIR and --seal-device PATH each name the sealing TPM: give one");
            }
            if (pcrs != 0 && seal == null && sealDevice == null) {
                throw new CliException("--seal-pcrs binds sealed keys: it needs --seal DIR or --seal-device PATH");
            }
            return new GuestProtection(Optional.ofNullable(directory).map(TpmSettings::new), MemoryBackend.parse(memoryBackend),
                    sealingTpm(pcrs));
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
    }

    /** The sealing TPM the options name; a device is reached once now, so a wrong path fails before any VM. */
    private Optional<SealingTpm> sealingTpm(int pcrs) throws CliException {
        if (sealDevice == null) {
            return Optional.ofNullable(seal).map(dir -> new SealingTpm(dir, authValue(), pcrs));
        }
        SealingTpm device = SealingTpm.onDevice(sealDevice, authValue(), pcrs);
        try {
            device.probe();
        } catch (SealException e) {
            throw new CliException(e.getMessage());
        }
        return Optional.of(device);
    }

    /** The SHA-256 of the variable's value (any length in, 32 bytes out), or nothing when it is unset or empty. */
    static byte[] authValue() {
        String value = System.getenv(AUTH_VARIABLE);
        if (value == null || value.isEmpty()) {
            return new byte[0];
        }
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(value.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
