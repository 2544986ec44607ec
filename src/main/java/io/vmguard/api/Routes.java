package io.vmguard.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The API's table of method and path to endpoint. Paths are fixed, or end in one {@code {id}} segment
 * ({@code /drives/{drive_id}}). A path that exists under another method is told apart from one that does
 * not exist at all (405 and 404).
 */
public final class Routes {
    /** One endpoint; {@code id} is the path's last segment where the route has one, else null. */
    @FunctionalInterface
    public interface Endpoint {
        Reply handle(String id, byte[] body) throws ApiError;
    }

    /** How a request's method and path matched. */
    public sealed interface Match {
        record Found(Endpoint endpoint, String id, boolean streaming) implements Match {}

        record WrongMethod(Set<String> allowed) implements Match {}

        record NotFound() implements Match {}
    }

    private record Route(String method, String prefix, boolean hasId, Endpoint endpoint, boolean streaming) {
        boolean matchesPath(String path) {
            if (!hasId) {
                return path.equals(prefix);
            }
            if (!path.startsWith(prefix)) {
                return false;
            }
            String id = path.substring(prefix.length());
            return !id.contains("/");
        }
    }

    private final List<Route> routes = new ArrayList<>();

    /** Adds {@code METHOD path}; a path ending in {@code /{id}} takes the last segment as the id. */
    public Routes add(String method, String path, Endpoint endpoint) {
        return add(method, path, endpoint, false);
    }

    /** A route whose reply is a long-lived stream: it is exempt from the request time limit. */
    public Routes addStream(String method, String path, Endpoint endpoint) {
        return add(method, path, endpoint, true);
    }

    private Routes add(String method, String path, Endpoint endpoint, boolean streaming) {
        boolean hasId = path.endsWith("/{id}");
        String prefix = hasId ? path.substring(0, path.length() - "{id}".length()) : path;
        routes.add(new Route(method, prefix, hasId, endpoint, streaming));
        return this;
    }

    public Match match(String method, String path) {
        Set<String> allowed = new TreeSet<>();
        for (Route route : routes) {
            if (route.matchesPath(path)) {
                if (route.method.equals(method)) {
                    return new Match.Found(route.endpoint, route.hasId ? path.substring(route.prefix.length()) : null,
                            route.streaming);
                }
                allowed.add(route.method);
            }
        }
        return allowed.isEmpty() ? new Match.NotFound() : new Match.WrongMethod(allowed);
    }
}
