package io.vmguard.devices.tpm;

import java.io.IOException;

/** What executes the guest's TPM commands (a swtpm process, or a test's fake): the CRB device knows no more. */
public interface TpmBackend {
    /** Runs one command; returns its response (a whole TPM response, header included). May block for seconds. */
    byte[] execute(byte[] command) throws IOException;

    /** Asks for the command in progress to be abandoned; the backend answers it sooner, with TPM_RC_CANCELED. */
    void cancel() throws IOException;
}
