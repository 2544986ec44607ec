package io.vmguard.api;

/**
 * A request the API refuses: the HTTP status and the one-line {@code fault_message} Firecracker's error
 * body carries. Thrown by handlers; the router turns it into the response.
 */
public final class ApiError extends Exception {
    private final int status;

    public ApiError(int status, String faultMessage) {
        super(faultMessage, null, false, false);
        this.status = status;
    }

    /** 400: a bad request, or one the VM's state does not allow (Firecracker answers both with 400). */
    public static ApiError badRequest(String faultMessage) {
        return new ApiError(400, faultMessage);
    }

    public int status() {
        return status;
    }
}
