package io.vmguard.api;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the API listens: a Unix socket, and TCP only when asked and then only with a token file. Never
 * listening is the default; a TCP listener without a token is refused here, before anything binds.
 */
public record ApiEndpoints(Optional<Path> unixSocket, Optional<InetSocketAddress> tcp, Optional<Path> tokenFile) {
    public ApiEndpoints {
        if (tcp.isPresent() && tokenFile.isEmpty()) {
            throw new IllegalArgumentException("refusing to listen on TCP without a bearer token (--api-token-file)");
        }
    }

    public boolean any() {
        return unixSocket.isPresent() || tcp.isPresent();
    }

    public static ApiEndpoints unix(Path socket) {
        return new ApiEndpoints(Optional.of(socket), Optional.empty(), Optional.empty());
    }

    /** Parses {@code HOST:PORT} (an IPv6 host in brackets). */
    public static InetSocketAddress parseHostPort(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("TCP address must be HOST:PORT, not '" + text + "'");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("port in '" + text + "' is not a number");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port in '" + text + "' is out of range");
        }
        return new InetSocketAddress(host, port);
    }
}
