/**
 * Kernel integrity monitoring from outside the guest. {@link io.vmguard.vmi.integrity.KernelFacts} is what one
 * pass reads from a Linux guest; the baseline is the facts at a trusted moment; {@link io.vmguard.vmi.integrity.IntegrityChecks}
 * compares later facts with it, and {@link io.vmguard.vmi.integrity.TrapClassifier} judges trapped writes as
 * they happen. Findings become security events (source {@code vmi}) in {@link io.vmguard.vmi.integrity.IntegrityMonitor}.
 */
package io.vmguard.vmi.integrity;
