package io.vmguard.engine;

/** An engine could not be created or configured; the message is one line a user can act on. */
public class EngineException extends Exception {
    public EngineException(String message) {
        super(message);
    }

    public EngineException(String message, Throwable cause) {
        super(message, cause);
    }
}
