package io.vmguard.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The VM's name and where its security events go: the same two options on {@code run} and {@code serve}. */
public final class EventOptions {
    @Option(names = "--id", paramLabel = "ID", defaultValue = "vm0",
            description = "the VM's id in security events and in the API's GET / (default ${DEFAULT-VALUE})")
    String id;

    @Option(names = "--events", paramLabel = "FILE",
            description = "append security events to FILE, one JSON object per line")
    Path eventsFile;

    /** Opens the events file (if any) behind the hub the API's streams share, for this VM's id. */
    VmEventsSetup open() throws CliException {
        return VmEventsSetup.open(id, eventsFile);
    }
}
