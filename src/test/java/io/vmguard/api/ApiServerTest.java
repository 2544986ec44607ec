package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.events.EventHub;
import io.vmguard.events.EventSink;
import io.vmguard.events.VmEvents;
import io.vmguard.testing.TinyKernel;
import io.vmguard.vmm.SerialTarget;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's contract with the host: its socket file, who may talk to it, and that misbehaving clients are bounded. */
class ApiServerTest {
    @TempDir
    Path dir;

    @Test
    void theSocketFileIsCreatedMode0600AndRemovedOnClose() throws Exception {
        Path socket;
        try (ApiHarness api = new ApiHarness(dir)) {
            socket = api.socket;
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            assertEquals(200, api.get("/").status());
            try (var listing = Files.list(dir)) {
                assertEquals(List.of("api.sock"), listing.map(path -> path.getFileName().toString())
                        .filter(name -> name.contains("sock") || name.startsWith(".vmguard")).toList());
            }
        }
        assertFalse(Files.exists(socket));
    }

    @Test
    void aPathWhereAServerAnswersIsRefused() throws Exception {
        try (ApiHarness first = new ApiHarness(dir)) {
            IOException refused = assertThrows(IOException.class, () -> new ApiHarness(dir).close());
            assertEquals("another server is listening on " + first.socket, refused.getMessage());
            assertEquals(200, first.get("/").status());
        }
    }

    @Test
    void aStaleSocketFileIsReplaced() throws Exception {
        Path socket = dir.resolve("api.sock");
        try (SocketChannel stale = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(socket)); // bound, never listening: what a crashed server leaves
        }
        assertTrue(Files.exists(socket));
        try (ApiHarness api = new ApiHarness(dir, socket)) {
            assertEquals(200, api.get("/").status());
        }
    }

    @Test
    void aPathHoldingARegularFileIsNotTouched() throws Exception {
        Path file = Files.writeString(dir.resolve("api.sock"), "keep me");
        IOException refused = assertThrows(IOException.class, () -> new ApiHarness(dir).close());
        assertTrue(refused.getMessage().contains("is not a socket"), refused.getMessage());
        assertEquals("keep me", Files.readString(file));
    }

    @Test
    void tcpIsRefusedWithoutATokenFile() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> new ApiEndpoints(
                Optional.empty(), Optional.of(new InetSocketAddress("127.0.0.1", 0)), Optional.empty()));
        assertTrue(refused.getMessage().contains("--api-token-file"), refused.getMessage());
    }

    @Test
    void tcpNeedsTheBearerToken() throws Exception {
        Path tokenFile = Files.writeString(dir.resolve("token"), "s3cret-token\n");
        EventHub hub = new EventHub(EventSink.NONE);
        VmEvents events = new VmEvents("tcp-vm", hub);
        Instance instance = Instance.configurable(new Instance.Launch("tcp-vm", "interp", new SerialTarget.Null(), events));
        ApiEndpoints endpoints = new ApiEndpoints(Optional.empty(), Optional.of(new InetSocketAddress("127.0.0.1", 0)),
                Optional.of(tokenFile));
        HttpClient client = new HttpClient();
        client.start();
        try (ApiServer server = ApiServer.start(endpoints, new ApiContext(instance, hub, events))) {
            String url = "http://127.0.0.1:" + server.tcpAddress().orElseThrow().getPort() + "/";
            ContentResponse none = client.newRequest(url).timeout(10, TimeUnit.SECONDS).send();
            assertEquals(401, none.getStatus());
            assertEquals("Bearer", none.getHeaders().get(HttpHeader.WWW_AUTHENTICATE));
            assertTrue(none.getContentAsString().contains("fault_message"));
            ContentResponse wrong = client.newRequest(url).headers(h -> h.put(HttpHeader.AUTHORIZATION, "Bearer s3cret"))
                    .timeout(10, TimeUnit.SECONDS).send();
            assertEquals(401, wrong.getStatus());
            ContentResponse right = client.newRequest(url).headers(h -> h.put(HttpHeader.AUTHORIZATION, "Bearer s3cret-token"))
                    .timeout(10, TimeUnit.SECONDS).send();
            assertEquals(200, right.getStatus(), right.getContentAsString());
            assertTrue(right.getContentAsString().contains("\"id\":\"tcp-vm\""));
        } finally {
            client.stop();
        }
    }

    @Test
    void aHeaderOverTheLimitIsRefusedWithAFault() throws Exception {
        try (ApiHarness api = new ApiHarness(dir)) {
            String reply = raw(api.socket, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(16 * 1024) + "\r\n\r\n");
            assertTrue(reply.startsWith("HTTP/1.1 431"), reply);
            assertTrue(reply.contains("fault_message"), reply);
            assertEquals(200, api.get("/").status());
        }
    }

    @Test
    void garbageGetsA400AndTheConnectionIsClosed() throws Exception {
        try (ApiHarness api = new ApiHarness(dir)) {
            String reply = raw(api.socket, "\u0001\u0002 garbage \u00ff\r\n\r\n");
            assertTrue(reply.startsWith("HTTP/1.1 400"), reply);
            assertTrue(reply.contains("fault_message"), reply);
        }
    }

    @Test
    void aHalfSentRequestIsDroppedAfterTheIdleTimeout() throws Exception {
        var limits = new ApiServer.Limits(ApiServer.MAX_CONNECTIONS, Duration.ofMillis(500), ApiServer.REQUEST_DEADLINE);
        try (ApiHarness api = new ApiHarness(dir.resolve("api.sock"), limits);
             SocketChannel half = SocketChannel.open(UnixDomainSocketAddress.of(api.socket))) {
            half.write(StandardCharsets.US_ASCII.encode("PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"));
            InputStream in = java.nio.channels.Channels.newInputStream(half);
            // readAllBytes returns at EOF: when the server has closed the connection
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () -> in.readAllBytes());
            assertEquals(200, api.get("/").status());
        }
    }

    @Test
    void aFloodOfBadConnectionsLeavesTheServerAnsweringAndTheVmRunning() throws Exception {
        var limits = new ApiServer.Limits(ApiServer.MAX_CONNECTIONS, Duration.ofSeconds(2), ApiServer.REQUEST_DEADLINE);
        try (ApiHarness api = new ApiHarness(dir.resolve("api.sock"), limits)) {
            Path kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.spin());
            api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
            api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}");
            assertEquals(204, api.put("/actions", "{\"action_type\": \"InstanceStart\"}").status());
            long before = api.instance.vm().orElseThrow().instructionsExecuted().orElseThrow();

            List<SocketChannel> halfOpen = new ArrayList<>();
            try {
                // Below the connection limit: connections that never finish their request, held open.
                for (int i = 0; i < ApiServer.MAX_CONNECTIONS / 2; i++) {
                    SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(api.socket));
                    channel.write(StandardCharsets.US_ASCII.encode(i % 2 == 0 ? "GET / HTT" : "PUT /drives/x HTTP/1.1\r\nContent-Length: 50\r\n\r\n{"));
                    halfOpen.add(channel);
                }
                // Many more that send garbage or enormous headers and are answered and closed.
                for (int i = 0; i < 300; i++) {
                    try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(api.socket))) {
                        String junk = switch (i % 3) {
                            case 0 -> "\u0000\u0001\u0002\r\n\r\n";
                            case 1 -> "GET / HTTP/1.1\r\nX: " + "b".repeat(20_000) + "\r\n\r\n";
                            default -> "POST /actions HTTP/9.9\r\n\r\n";
                        };
                        channel.write(StandardCharsets.ISO_8859_1.encode(junk));
                    } catch (IOException closedEarly) {
                        // the server may close first: that is its right
                    }
                }
                long started = System.nanoTime();
                assertEquals(200, api.get("/").status());
                assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5), "GET / was slow under the flood");
            } finally {
                for (SocketChannel channel : halfOpen) {
                    channel.close();
                }
            }
            assertEquals("Running", api.get("/").json().get("state").asText());
            Thread.sleep(100);
            assertTrue(api.instance.vm().orElseThrow().instructionsExecuted().orElseThrow() > before, "the vCPU stopped");
            api.instance.stop("test over");
        }
    }

    /** Sends {@code request} on a fresh connection and returns all the server says until it closes the connection. */
    private static String raw(Path socket, String request) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            OutputStream out = java.nio.channels.Channels.newOutputStream(channel);
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            StringBuilder text = new StringBuilder();
            try {
                while (channel.read(buffer) >= 0) {
                    buffer.flip();
                    text.append(StandardCharsets.ISO_8859_1.decode(buffer));
                    buffer.clear();
                }
            } catch (IOException reset) {
                // a reset after the answer: what was read is the answer
            }
            return text.toString();
        }
    }
}
