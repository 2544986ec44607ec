package io.vmguard.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Dispatches each request to its endpoint and answers for it: reads the body (at most
 * {@link #MAX_BODY_BYTES}), bounds the time an answer may take ({@link #deadline}), and turns
 * {@link ApiError}s and anything unexpected into Firecracker's error body. Unknown paths get 404 and
 * known paths under another method 405, both with Firecracker's message.
 */
final class ApiHandler extends Handler.Abstract {
    static final int MAX_BODY_BYTES = 64 * 1024;

    private final Routes routes;
    private final ApiCounters counters;
    private final Duration deadline;

    ApiHandler(Routes routes, ApiCounters counters, Duration deadline) {
        super(InvocationType.BLOCKING);
        this.routes = routes;
        this.counters = counters;
        this.deadline = deadline;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        counters.request();
        String method = request.getMethod();
        String path = request.getHttpURI().getPath();
        switch (routes.match(method, path == null ? "/" : path)) {
            case Routes.Match.NotFound notFound ->
                    answer(response, callback, 404, "Invalid request method and/or path: " + method + " " + path + ".");
            case Routes.Match.WrongMethod wrong -> {
                response.getHeaders().put(HttpHeader.ALLOW, String.join(", ", wrong.allowed()));
                answer(response, callback, 405, "Invalid request method and/or path: " + method + " " + path + ".");
            }
            case Routes.Match.Found found when found.streaming() -> stream(request, response, callback, found);
            case Routes.Match.Found found -> withDeadline(request, response, callback, found);
        }
        return true;
    }

    /** Answers within the deadline: if the endpoint is still busy then, the client gets 503 and the endpoint's late answer is dropped. */
    private void withDeadline(Request request, Response response, Callback callback, Routes.Match.Found found) {
        AtomicBoolean answered = new AtomicBoolean();
        Scheduler.Task timer = request.getComponents().getScheduler().schedule(() -> {
            if (answered.compareAndSet(false, true)) {
                counters.timeout();
                response.getHeaders().put(HttpHeader.CONNECTION, "close");
                answer(response, callback, 503, "the request did not finish within " + deadline.toSeconds()
                        + " s; it may still take effect");
            }
        }, deadline.toMillis(), TimeUnit.MILLISECONDS);
        // While the endpoint works nothing moves on the connection: the deadline, not the idle timeout, bounds it.
        request.addIdleTimeoutListener(timeout -> false);
        Reply reply;
        try {
            reply = found.endpoint().handle(found.id(), body(request));
        } catch (ApiError error) {
            if (answered.compareAndSet(false, true)) {
                timer.cancel();
                if (error.status() == 413) {
                    response.getHeaders().put(HttpHeader.CONNECTION, "close"); // the rest of the body is not read
                }
                answer(response, callback, error.status(), error.getMessage());
            }
            return;
        } catch (RuntimeException unexpected) {
            if (answered.compareAndSet(false, true)) {
                timer.cancel();
                answer(response, callback, 500, "internal error: " + unexpected);
            }
            return;
        }
        if (answered.compareAndSet(false, true)) {
            timer.cancel();
            write(response, callback, reply);
        }
    }

    private void stream(Request request, Response response, Callback callback, Routes.Match.Found found) {
        Reply reply;
        try {
            reply = found.endpoint().handle(found.id(), body(request));
        } catch (ApiError error) {
            answer(response, callback, error.status(), error.getMessage());
            return;
        }
        write(response, callback, reply);
    }

    private void write(Response response, Callback callback, Reply reply) {
        switch (reply) {
            case Reply.NoContent none -> {
                counters.status(204);
                response.setStatus(204);
                callback.succeeded();
            }
            case Reply.Body body -> {
                counters.status(body.status());
                Faults.writeJson(response, callback, body.status(), body.value());
            }
            case Reply.Stream stream -> {
                counters.status(200);
                response.setStatus(200);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, stream.contentType());
                try (OutputStream out = Content.Sink.asOutputStream(response)) {
                    out.flush(); // sends the headers now: the client knows it is subscribed
                    stream.writer().writeTo(out);
                } catch (IOException gone) {
                    callback.failed(gone); // the reader went away or stalled past the idle timeout
                    return;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    callback.failed(e);
                    return;
                }
                callback.succeeded();
            }
        }
    }

    private void answer(Response response, Callback callback, int status, String message) {
        counters.status(status);
        Faults.writeFault(response, callback, status, message);
    }

    /** The whole body, refused with 413 beyond {@link #MAX_BODY_BYTES} whether its length was declared or not. */
    private static byte[] body(Request request) throws ApiError {
        long declared = request.getLength();
        if (declared > MAX_BODY_BYTES) {
            throw tooLarge();
        }
        byte[] body;
        try (InputStream in = Content.Source.asInputStream(request)) {
            body = in.readNBytes(MAX_BODY_BYTES + 1);
        } catch (IOException e) {
            throw ApiError.badRequest("cannot read the request body: " + e.getMessage());
        }
        if (body.length > MAX_BODY_BYTES) {
            throw tooLarge();
        }
        if (body.length > 0 && request.getMethod().equals("GET")) {
            throw ApiError.badRequest("GET request cannot have a body.");
        }
        return body;
    }

    private static ApiError tooLarge() {
        return new ApiError(413, "the request body is larger than " + MAX_BODY_BYTES / 1024 + " KiB");
    }
}
