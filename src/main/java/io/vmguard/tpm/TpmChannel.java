package io.vmguard.tpm;

import java.io.IOException;

/** Where TPM commands go: one whole command in, one whole response back (swtpm's data socket, a TPM device). */
public interface TpmChannel {
    byte[] execute(byte[] command) throws IOException;
}
