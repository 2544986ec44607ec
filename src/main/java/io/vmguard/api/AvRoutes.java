package io.vmguard.api;

/**
 * The antivirus on the control API: {@code GET /av/status} gives the runtime scanner's figures (code frames
 * seen, scans, cache hits, bytes scanned, matches, refusals, pauses, its CPU time). Matches themselves are
 * {@code av} alarms on the event stream.
 */
final class AvRoutes {
    private AvRoutes() {}

    static void register(Routes routes, ApiContext api) {
        Instance instance = api.instance();
        routes.add("GET", "/av/status", (id, body) -> Reply.ok(instance.antivirus().status()));
    }
}
