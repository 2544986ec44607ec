package io.vmguard.tpm;

/** A TPM's saved state: swtpm's permanent blob (seeds, NV, hierarchies) and volatile blob (PCRs, loaded objects). */
public record TpmState(byte[] permanent, byte[] volatileState) {
    public TpmState {
        permanent = permanent.clone();
        volatileState = volatileState.clone();
    }

    @Override
    public byte[] permanent() {
        return permanent.clone();
    }

    @Override
    public byte[] volatileState() {
        return volatileState.clone();
    }
}
