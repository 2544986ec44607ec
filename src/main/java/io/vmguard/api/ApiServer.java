package io.vmguard.api;

import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.LocalConnector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The control API's HTTP/1.1 server (Jetty): Firecracker's requests and vmguard's own, on a Unix socket
 * of mode 0600 and, when asked, on TCP behind a bearer token.
 *
 * <p>Bounded against a client that misbehaves, so that the VM never notices one: request bodies of at most
 * 64 KiB (413), request headers of at most {@link #MAX_HEADER_BYTES} (431), at most
 * {@link #MAX_CONNECTIONS} connections (up to {@link #ACCEPT_BACKLOG} more wait in the kernel's backlog until one
 * closes; past that, connecting fails at once), a connection
 * with nothing moving for {@link #IDLE_TIMEOUT} is closed (half-sent requests, stalled readers), and an
 * answer takes at most {@link #REQUEST_DEADLINE} (503 after; a snapshot of a large guest is the slowest). Garbage gets a 400 and the connection is closed.
 * The API runs on its own threads: the vCPU never waits for it.
 */
public final class ApiServer implements AutoCloseable {
    public static final int MAX_HEADER_BYTES = 8 * 1024;
    /** Orchestrators poll with many clients at once (100 in the latency benchmark); each may hold a thread. */
    public static final int MAX_CONNECTIONS = 128;
    /** Connections waiting for one of the {@link #MAX_CONNECTIONS} to close; past it, connect() is refused. */
    public static final int ACCEPT_BACKLOG = 256;
    public static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration REQUEST_DEADLINE = Duration.ofSeconds(60);

    /** The bounds that are times and counts; tests shorten them. */
    public record Limits(int maxConnections, Duration idleTimeout, Duration requestDeadline) {
        public static final Limits DEFAULT = new Limits(MAX_CONNECTIONS, IDLE_TIMEOUT, REQUEST_DEADLINE);
    }

    private final Server server;
    private final ApiContext api;
    private final Optional<Path> socketPath;
    private final Optional<InetSocketAddress> tcpAddress;

    private ApiServer(Server server, ApiContext api, Optional<Path> socketPath, Optional<InetSocketAddress> tcpAddress) {
        this.server = server;
        this.api = api;
        this.socketPath = socketPath;
        this.tcpAddress = tcpAddress;
    }

    /** Binds every endpoint and starts answering; an IOException's message is one line for the user. */
    public static ApiServer start(ApiEndpoints endpoints, ApiContext api) throws IOException {
        return start(endpoints, api, Limits.DEFAULT);
    }

    public static ApiServer start(ApiEndpoints endpoints, ApiContext api, Limits limits) throws IOException {
        if (!endpoints.any()) {
            throw new IOException("no API endpoint: give --api-sock PATH (or --api-tcp with --api-token-file)");
        }
        Optional<BearerToken> token = Optional.empty();
        if (endpoints.tokenFile().isPresent()) {
            token = Optional.of(BearerToken.load(endpoints.tokenFile().get()));
        }
        // Each connection may hold a thread (an event stream does); a few more for Jetty's acceptors and selectors.
        QueuedThreadPool threads = new QueuedThreadPool(limits.maxConnections() + 16, 4);
        threads.setName("vmguard-api");
        threads.setDaemon(true);
        Server server = new Server(threads);
        server.setStopTimeout(2000); // event streams get this long to send their last lines
        server.setErrorHandler(new FaultErrorHandler());
        HttpConnectionFactory http = new HttpConnectionFactory(httpConfiguration(limits));

        SocketFile socket = null;
        UnixDomainServerConnector unix = null;
        ServerConnector tcp = null;
        if (endpoints.unixSocket().isPresent()) {
            socket = SocketFile.prepare(endpoints.unixSocket().get());
            unix = new UnixDomainServerConnector(server, 1, 1, http);
            unix.setUnixDomainPath(socket.bindPath());
            unix.setAcceptQueueSize(ACCEPT_BACKLOG);
            unix.setIdleTimeout(limits.idleTimeout().toMillis());
            server.addConnector(unix);
        }
        if (endpoints.tcp().isPresent()) {
            tcp = new ServerConnector(server, 1, 1, http);
            tcp.setHost(endpoints.tcp().get().getHostString());
            tcp.setPort(endpoints.tcp().get().getPort());
            tcp.setAcceptQueueSize(ACCEPT_BACKLOG);
            tcp.setIdleTimeout(limits.idleTimeout().toMillis());
            server.addConnector(tcp);
        }
        server.addBean(new NetworkConnectionLimit(limits.maxConnections(), server));

        Routes routes = new Routes();
        FirecrackerRoutes.register(routes, api);
        VmguardRoutes.register(routes, api);
        VmiRoutes.register(routes, api);
        AvRoutes.register(routes, api);
        Handler handler = new ApiHandler(routes, api.counters(), limits.requestDeadline());
        if (tcp != null) {
            handler = new TokenCheck(handler, tcp, token.orElseThrow(), api.counters());
        }
        server.setHandler(handler);
        try {
            server.start();
            if (socket != null) {
                socket.publish();
                unix.setUnixDomainPath(socket.target()); // where Jetty deletes the socket file when it stops
            }
        } catch (Exception e) {
            stopQuietly(server);
            if (socket != null) {
                socket.abandon();
            }
            throw new IOException("cannot start the API server: " + oneLine(e), e);
        }
        Optional<InetSocketAddress> bound = tcp == null ? Optional.empty()
                : Optional.of(new InetSocketAddress(tcp.getHost(), tcp.getLocalPort()));
        ApiServer started = new ApiServer(server, api, Optional.ofNullable(socket).map(SocketFile::target), bound);
        Map<String, Object> details = new LinkedHashMap<>();
        started.socketPath.ifPresent(path -> details.put("api_sock", path.toString()));
        bound.ifPresent(address -> details.put("api_tcp", address.getHostString() + ":" + address.getPort()));
        api.events().emit(Source.VMM, "api-started", Severity.INFO, details);
        return started;
    }

    private static HttpConfiguration httpConfiguration(Limits limits) {
        HttpConfiguration config = new HttpConfiguration();
        config.setRequestHeaderSize(MAX_HEADER_BYTES);
        config.setSendServerVersion(false);
        config.setSendDateHeader(false);
        config.setIdleTimeout(limits.idleTimeout().toMillis());
        return config;
    }

    private static String oneLine(Exception e) {
        Throwable cause = e;
        while (cause.getCause() != null && cause.getMessage() == null) {
            cause = cause.getCause();
        }
        String message = String.valueOf(cause.getMessage());
        return message.lines().findFirst().orElse(message);
    }

    public Optional<Path> socketPath() {
        return socketPath;
    }

    /** The TCP address actually bound (port 0 asks for any free port). */
    public Optional<InetSocketAddress> tcpAddress() {
        return tcpAddress;
    }

    public ApiContext context() {
        return api;
    }

    /**
     * Pays, in the background, the first-time costs the first boot or restore on {@code engine} would
     * otherwise pay ({@link WarmUp}): for a server that waits for its orders, as {@code serve} does.
     */
    public void warmUp(String engine) {
        WarmUp.start(engine, this::answerOneRequestInMemory);
    }

    /**
     * Sends {@code GET /} through the handlers over an in-memory connector that only this process can
     * reach, and removes it: Jetty's and the handlers' first request costs tens of milliseconds cold.
     */
    private void answerOneRequestInMemory() {
        LocalConnector local = new LocalConnector(server);
        try {
            server.addConnector(local);
            local.start();
            local.getResponse("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        } catch (Exception e) {
            // Only time is lost: the first real request pays what this did not.
        } finally {
            server.removeConnector(local);
            stopQuietly(local);
        }
    }

    /** Ends event streams (they send what they hold), stops answering and removes the socket file. */
    @Override
    public void close() {
        api.hub().endSubscriptions();
        stopQuietly(server);
        api.metrics().close();
        api.logger().close();
    }

    private static void stopQuietly(org.eclipse.jetty.util.component.LifeCycle server) {
        try {
            server.stop();
        } catch (Exception e) {
            System.err.println("vmguard: api: stopping the server: " + oneLine(e));
        }
    }

    /** TCP requests must carry the bearer token; requests on the Unix socket are trusted by its file mode. */
    private static final class TokenCheck extends Handler.Wrapper {
        private final ServerConnector tcp;
        private final BearerToken token;
        private final ApiCounters counters;

        TokenCheck(Handler next, ServerConnector tcp, BearerToken token, ApiCounters counters) {
            super(next);
            this.tcp = tcp;
            this.token = token;
            this.counters = counters;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            if (request.getConnectionMetaData().getConnector() == tcp
                    && !token.admits(request.getHeaders().get(HttpHeader.AUTHORIZATION))) {
                counters.request();
                counters.status(401);
                response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
                Faults.writeFault(response, callback, 401, "a bearer token is required (Authorization: Bearer TOKEN)");
                return true;
            }
            return super.handle(request, response, callback);
        }
    }
}
