package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.net.NetSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The guest scripts {@code net-serve} and {@code net-send} in two VMs joined by the socket backend: the client
 * pings the server, then sends it 1 MiB over TCP. Both must power off with status 0 and their checksums of
 * the bytes must agree. Returns both consoles for the caller's own checks.
 */
final class FileTransferBetweenVms {
    record Consoles(String server, String client) {}

    private FileTransferBetweenVms() {}

    /**
     * @param guest makes a VM's configuration from a guest script and its extra command line, with the
     *              console going to the given file
     */
    static Consoles run(Path dir, GuestFactory guest) throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        Path serverLog = dir.resolve("server.log");
        Path clientLog = dir.resolve("client.log");
        VmConfig server = guest.config("net-serve", serverLog, "vmguard.ip=10.0.2.1")
                .withNets(List.of(NetSpec.parse("socket:" + a + "," + b)));
        VmConfig client = guest.config("net-send", clientLog, "vmguard.ip=10.0.2.2 vmguard.peer=10.0.2.1")
                .withNets(List.of(NetSpec.parse("socket:" + b + "," + a)));

        CompletableFuture<RunOutcome> serving = CompletableFuture.supplyAsync(() -> {
            try {
                return boot(server);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        RunOutcome sent = boot(client);
        RunOutcome served = serving.get(10, TimeUnit.MINUTES);
        String clientText = Files.readString(clientLog);
        String serverText = Files.readString(serverLog);
        assertEquals(new RunOutcome.PoweredOff(0), sent, clientText);
        assertEquals(new RunOutcome.PoweredOff(0), served, serverText);

        assertArrivedIntact(clientText, serverText);
        return new Consoles(serverText, clientText);
    }

    /** The server received 1 MiB, and its SHA-256 is the one the client printed for what it sent. */
    static void assertArrivedIntact(String clientText, String serverText) {
        Matcher sentSum = Pattern.compile("net-send: sending (\\d+) bytes sha256=(\\w+)").matcher(clientText);
        Matcher receivedSum = Pattern.compile("net-serve: received (\\d+) bytes sha256=(\\w+)").matcher(serverText);
        assertTrue(sentSum.find(), clientText);
        assertTrue(receivedSum.find(), serverText);
        assertEquals("1048576", receivedSum.group(1), serverText);
        assertEquals(sentSum.group(2), receivedSum.group(2), "the bytes arrived intact");
    }

    /** A VM's configuration for a guest script. */
    @FunctionalInterface
    interface GuestFactory {
        VmConfig config(String script, Path console, String extraCommandLine);
    }

    private static RunOutcome boot(VmConfig config) throws Exception {
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            return vm.run();
        }
    }
}
