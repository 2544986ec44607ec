package io.vmguard.api;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Errors Jetty answers before a request reaches the API (a garbled request line, headers over the limit)
 * get Firecracker's error body too, not an HTML page, and the connection is closed afterwards.
 */
final class FaultErrorHandler extends ErrorHandler {
    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) {
        String text = message != null && !message.isBlank() ? message : HttpStatus.getMessage(code);
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        Faults.writeFault(response, callback, code, text.lines().findFirst().orElse(text));
    }
}
