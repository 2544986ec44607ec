/**
 * The guest's TPM backend and what vmguard does with a TPM itself: {@link io.vmguard.tpm.Swtpm} runs and
 * speaks to Debian's swtpm (control and data channels, state blobs for snapshots), {@link io.vmguard.tpm.TpmCodec}
 * marshals the few TPM 2.0 commands vmguard sends, and {@link io.vmguard.tpm.MeasuredBoot} extends PCRs with
 * what boots and writes the TCG event log ({@link io.vmguard.tpm.EventLog}). The guest-facing device is in
 * {@code devices.tpm}; {@code vmm} wires the two.
 */
package io.vmguard.tpm;
