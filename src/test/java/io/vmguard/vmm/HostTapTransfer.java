package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A guest on a host TAP talks to the host's own network stack: it pings the host three times, then sends
 * 1 MiB over TCP to a listener on the TAP's address, whose bytes must hash to what the guest printed. The
 * guest runs a script that does so ({@code net-send} and kin) with {@code vmguard.ip}/{@code vmguard.peer}.
 * Skipped where the host has no TUN/TAP or the test may not create one (CAP_NET_ADMIN).
 */
final class HostTapTransfer {
    /** Boots the guest with its card on {@code tap} and {@code kernelArgs} added; returns its console. */
    interface Guest {
        String run(String tap, String kernelArgs) throws Exception;
    }

    private HostTapTransfer() {}

    /**
     * @param tapPrefix the TAP's name before this process's id (distinct per test class: names are global)
     * @param subnet    the second octet of the 10.x.y.0/24 net used (distinct per test class too)
     */
    static void run(String tapPrefix, int subnet, Guest guest) throws Exception {
        long pid = ProcessHandle.current().pid();
        String tap = tapPrefix + pid;
        String prefix = "10." + subnet + "." + (pid % 256) + ".";
        assumeTrue(Files.exists(Path.of("/dev/net/tun")), "no /dev/net/tun: this host has no TUN/TAP");
        Process add = new ProcessBuilder("ip", "tuntap", "add", tap, "mode", "tap").redirectErrorStream(true).start();
        String addOutput = new String(add.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assumeTrue(add.waitFor() == 0, "cannot create a tap (needs CAP_NET_ADMIN): " + addOutput.strip());
        try {
            host("ip", "addr", "add", prefix + "1/24", "dev", tap);
            host("ip", "link", "set", tap, "up");
            try (ServerSocket listener = new ServerSocket(5000, 1, InetAddress.getByName(prefix + "1"))) {
                CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
                    try (Socket connection = listener.accept()) {
                        return connection.getInputStream().readAllBytes();
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                });
                String console = guest.run(tap, "vmguard.ip=" + prefix + "2 vmguard.peer=" + prefix + "1");
                assertTrue(console.contains("3 packets transmitted, 3 packets received"), console);
                Matcher sent = Pattern.compile("net-send: sending (\\d+) bytes sha256=(\\w+)").matcher(console);
                assertTrue(sent.find(), console);
                byte[] data = received.get(1, TimeUnit.MINUTES);
                assertEquals(1 << 20, data.length);
                assertEquals(sent.group(2), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)));
            }
        } finally {
            new ProcessBuilder("ip", "link", "del", tap).start().waitFor();
        }
    }

    private static void host(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        process.getInputStream().readAllBytes();
        assertEquals(0, process.waitFor(), String.join(" ", command));
    }
}
