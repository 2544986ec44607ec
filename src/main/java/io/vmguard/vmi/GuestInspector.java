package io.vmguard.vmi;

/**
 * Gives an inspection one consistent {@link GuestView}: the VMM holds the vCPUs at instruction boundaries while
 * it runs (or the VM is paused anyway).
 */
public interface GuestInspector {
    <T> T inspect(Inspection<T> inspection) throws VmiException;

    @FunctionalInterface
    interface Inspection<T> {
        T apply(GuestView view) throws VmiException;
    }
}
