package io.vmguard.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** What every API client command takes: the socket, and whether the output is for people or machines. */
public final class ClientOptions {
    @Option(names = "--api-sock", paramLabel = "PATH", required = true, description = "the API's Unix socket")
    Path socket;

    @Option(names = "--json", description = "print JSON (for programs) instead of text (for people)")
    boolean json;

    ApiClient connect() throws CliException {
        return new ApiClient(socket);
    }
}
