package io.vmguard.cli;

import io.vmguard.memory.MemoryBackend;
import io.vmguard.vmm.GuestProtection;
import io.vmguard.vmm.TpmSettings;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** What protects the guest (issue 16): {@code --tpm DIR} and {@code --memory-backend}. */
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

    GuestProtection protection() throws CliException {
        try {
            return new GuestProtection(Optional.ofNullable(directory).map(TpmSettings::new), MemoryBackend.parse(memoryBackend));
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
    }
}
