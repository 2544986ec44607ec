package io.vmguard.cli;

import io.vmguard.api.ApiEndpoints;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** Where {@code run} and {@code serve} answer the control API; nowhere unless asked. */
public final class ApiOptions {
    @Option(names = "--api-sock", paramLabel = "PATH",
            description = "serve the control API (Firecracker's requests and vmguard's) on a Unix socket, mode 0600")
    Path socket;

    @Option(names = "--api-tcp", paramLabel = "HOST:PORT",
            description = "also serve it on TCP; needs --api-token-file")
    String tcp;

    @Option(names = "--api-token-file", paramLabel = "FILE",
            description = "the bearer token TCP clients must send (Authorization: Bearer TOKEN)")
    Path tokenFile;

    ApiEndpoints endpoints() throws CliException {
        try {
            return new ApiEndpoints(Optional.ofNullable(socket),
                    tcp == null ? Optional.empty() : Optional.of(ApiEndpoints.parseHostPort(tcp)),
                    Optional.ofNullable(tokenFile));
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
    }
}
