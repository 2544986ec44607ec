package io.vmguard.vmm;

import io.vmguard.vmi.GuestInspector;
import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.VmiException;
import java.util.function.Function;

/** {@link Vm#inspect} as the library's {@link GuestInspector}: a VM that cannot be held becomes a VmiException. */
record VmInspector(Vm vm) implements GuestInspector {
    @Override
    public <T> T inspect(Inspection<T> inspection) throws VmiException {
        record Outcome<T>(T value, VmiException failure) {}
        Function<GuestView, Outcome<T>> body = view -> {
            try {
                return new Outcome<>(inspection.apply(view), null);
            } catch (VmiException e) {
                return new Outcome<>(null, e);
            }
        };
        Outcome<T> outcome;
        try {
            outcome = vm.inspect(body);
        } catch (VmException e) {
            throw new VmiException(e.getMessage());
        }
        if (outcome.failure() != null) {
            throw outcome.failure();
        }
        return outcome.value();
    }
}
