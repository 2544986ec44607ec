package io.vmguard.vmm;

import java.nio.file.Path;
import java.util.Objects;

/**
 * The guest's TPM 2.0 (`--tpm DIR`): a swtpm whose state lives in {@code stateDirectory} (made 0700 and
 * manufactured on first use), behind a CRB device, with the boot measured into it.
 */
public record TpmSettings(Path stateDirectory) {
    public TpmSettings {
        Objects.requireNonNull(stateDirectory, "stateDirectory");
    }
}
