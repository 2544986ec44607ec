package io.vmguard.events;

/**
 * Where security events go. Implementations are safe to call from any thread and never throw: a sink that
 * cannot write (a full disk, a closed stream) drops the event and says so once, it does not stop the VM.
 */
public interface EventSink extends AutoCloseable {
    /** Drops every event: what a VM without {@code --events} gets. */
    EventSink NONE = new EventSink() {
        @Override
        public void emit(SecurityEvent event) {
        }

        @Override
        public void close() {
        }
    };

    void emit(SecurityEvent event);

    @Override
    void close();
}
