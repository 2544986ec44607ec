package io.vmguard.cli;

import io.vmguard.vmm.TpmSettings;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The guest's TPM: {@code --tpm DIR}. */
public final class TpmOptions {
    @Option(names = "--tpm", paramLabel = "DIR",
            description = "give the guest a TPM 2.0 (CRB, /dev/tpm0) backed by swtpm with its state in DIR (made 0700 and "
                    + "manufactured on first use); the kernel, initrd and command line are measured into PCRs 9 and 8 before boot. "
                    + "Needs Debian's swtpm and swtpm-tools")
    Path directory;

    Optional<TpmSettings> settings() {
        return Optional.ofNullable(directory).map(TpmSettings::new);
    }
}
