package io.vmguard.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.io.Transport;

/**
 * Latency of one API request under concurrent clients: {@code clients} threads, each on its own keep-alive
 * connection over the Unix socket, send {@code GET path} back to back for {@code seconds}; prints one JSON
 * object with p50/p90/p99/max in microseconds, requests per second and errors. Run by scripts/bench-api.
 *
 * <p>Usage: {@code ApiLatencyBenchmark SOCKET [CLIENTS] [SECONDS] [PATH]}
 */
public final class ApiLatencyBenchmark {
    private ApiLatencyBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        int clients = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        Duration duration = Duration.ofSeconds(args.length > 2 ? Long.parseLong(args[2]) : 10);
        String path = args.length > 3 ? args[3] : "/vm/config";

        HttpClient http = new HttpClient();
        http.setMaxConnectionsPerDestination(clients);
        http.setMaxRequestsQueuedPerDestination(clients * 2);
        http.start();
        Transport transport = new Transport.TCPUnix(socket);
        // Warm both sides (connections, JIT) before anything is timed.
        run(http, transport, path, clients, Duration.ofSeconds(2));
        Result result = run(http, transport, path, clients, duration);
        http.stop();

        long[] sorted = result.latencies();
        Arrays.sort(sorted);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("request", "GET " + path);
        out.put("clients", clients);
        out.put("seconds", duration.toSeconds());
        out.put("requests", sorted.length);
        out.put("errors", result.errors());
        out.put("requests_per_second", Math.round(sorted.length / (double) duration.toSeconds()));
        out.put("p50_us", percentile(sorted, 50));
        out.put("p90_us", percentile(sorted, 90));
        out.put("p99_us", percentile(sorted, 99));
        out.put("max_us", sorted.length == 0 ? 0 : sorted[sorted.length - 1] / 1000);
        System.out.println(new ObjectMapper().writeValueAsString(out));
    }

    private record Result(long[] latencies, long errors) {}

    private static Result run(HttpClient http, Transport transport, String path, int clients, Duration duration)
            throws InterruptedException {
        long end = System.nanoTime() + duration.toNanos();
        AtomicLong errors = new AtomicLong();
        CountDownLatch done = new CountDownLatch(clients);
        long[][] buffers = new long[clients][];
        int[] filled = new int[clients];
        for (int c = 0; c < clients; c++) {
            int client = c;
            buffers[c] = new long[1 << 16];
            Thread.ofPlatform().daemon().name("client-" + c).start(() -> {
                try {
                    while (System.nanoTime() < end) {
                        long start = System.nanoTime();
                        ContentResponse response = http.newRequest("http://localhost" + path).transport(transport).send();
                        long took = System.nanoTime() - start;
                        if (response.getStatus() != 200) {
                            note(errors, "HTTP " + response.getStatus() + " " + response.getContentAsString());
                        } else if (filled[client] < buffers[client].length) {
                            buffers[client][filled[client]++] = took;
                        }
                    }
                } catch (Exception e) {
                    note(errors, e.toString());
                } finally {
                    done.countDown();
                }
            });
        }
        done.await();
        int total = 0;
        for (int c = 0; c < clients; c++) {
            total += filled[c];
        }
        long[] all = new long[total];
        int at = 0;
        for (int c = 0; c < clients; c++) {
            System.arraycopy(buffers[c], 0, all, at, filled[c]);
            at += filled[c];
        }
        return new Result(all, errors.get());
    }

    /** Counts an error; the first few are printed on stderr, so a run with errors says what they were. */
    private static void note(AtomicLong errors, String what) {
        if (errors.incrementAndGet() <= 3) {
            System.err.println("bench-api: error: " + what.lines().findFirst().orElse(what));
        }
    }

    private static long percentile(long[] sorted, int p) {
        if (sorted.length == 0) {
            return 0;
        }
        int index = (int) Math.min(sorted.length - 1, Math.ceil(p / 100.0 * sorted.length) - 1);
        return sorted[Math.max(0, index)] / 1000;
    }
}
