package io.vmguard.vmm;

import io.vmguard.av.SignatureDatabase;
import io.vmguard.av.runtime.RuntimeAction;
import java.time.Duration;
import java.util.Optional;

/**
 * How a VM's code is scanned, chosen at start: no database, no scanning (and no cost).
 *
 * @param database    the signatures (loaded before the VM starts, so a bad path fails the start, not the guest)
 * @param action      what a match does
 * @param sweepPeriod how often executable pages are swept where the engine cannot trap first executions (KVM)
 */
public record AntivirusSettings(Optional<SignatureDatabase> database, RuntimeAction action, Duration sweepPeriod) {
    public static AntivirusSettings off() {
        return new AntivirusSettings(Optional.empty(), RuntimeAction.ALERT, Duration.ofSeconds(1));
    }

    public static AntivirusSettings scanning(SignatureDatabase database, RuntimeAction action) {
        return new AntivirusSettings(Optional.of(database), action, Duration.ofSeconds(1));
    }

    public boolean enabled() {
        return database.isPresent();
    }
}
