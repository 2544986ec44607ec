package io.vmguard.virtio;

/**
 * What a device has to tell the driver, decided under the device's lock and sent once it is released:
 * sending takes the transport's locks, which the transport may hold while it waits for the device's
 * ({@link VirtioDevice}'s lock rule).
 */
public sealed interface Signal {
    /** Nothing to say. */
    Signal NONE = new None();

    void send();

    /** What a device works out under its lock: the signal to send once the lock is released. */
    @FunctionalInterface
    interface Decision<E extends Exception> {
        Signal decide() throws E;
    }

    /** The lock rule in one place: decides under {@code lock}, then sends the signal outside it. */
    static <E extends Exception> void decideThenSend(Object lock, Decision<E> decision) throws E {
        Signal signal;
        synchronized (lock) {
            signal = decision.decide();
        }
        signal.send();
    }

    /** This signal, then {@code next}. */
    default Signal then(Signal next) {
        return this instanceof None ? next : next instanceof None ? this : new Both(this, next);
    }

    /** The device returned buffers on {@code queue} and the driver asked to hear of it. */
    static Signal usedBuffers(DeviceContext context, int queue) {
        return new UsedBuffers(context.interrupt(), queue);
    }

    /** The driver broke the contract: the transport is to set DEVICE_NEEDS_RESET. */
    static Signal failure(DeviceContext context, String reason) {
        return new Failure(context.failure(), reason);
    }

    record None() implements Signal {
        @Override
        public void send() {}
    }

    record UsedBuffers(VirtioInterrupt interrupt, int queue) implements Signal {
        @Override
        public void send() {
            interrupt.usedBuffers(queue);
        }
    }

    record Failure(DeviceContext.DeviceFailure failure, String reason) implements Signal {
        @Override
        public void send() {
            failure.failed(reason);
        }
    }

    record Both(Signal first, Signal second) implements Signal {
        @Override
        public void send() {
            first.send();
            second.send();
        }
    }
}
