package io.vmguard.net;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * A network card's backend as the command line gives it: {@code socket:LOCAL_PATH,PEER_PATH[,OPTIONS]} or
 * {@code tap:IFNAME[,OPTIONS]}, options {@code mac=MAC} and {@code model=virtio|e1000}. The MAC address and
 * the model belong to the card; absent, the card picks a random MAC and is virtio-net. Paths cannot
 * contain commas (the separator).
 */
public sealed interface NetSpec {
    String USAGE = "socket:LOCAL_PATH,PEER_PATH[,mac=MAC][,model=virtio|e1000] or tap:IFNAME[,mac=MAC][,model=virtio|e1000]";

    Optional<MacAddress> mac();

    /** The card the guest sees on this backend. */
    NetModel model();

    /** The same backend and MAC with another card model. */
    NetSpec withModel(NetModel model);

    /** One Ethernet frame per datagram between a socket bound at {@code local} and one at {@code peer}. */
    record Socket(Path local, Path peer, Optional<MacAddress> mac, NetModel model) implements NetSpec {
        public Socket {
            java.util.Objects.requireNonNull(model, "model");
        }

        /** A virtio-net card. */
        public Socket(Path local, Path peer, Optional<MacAddress> mac) {
            this(local, peer, mac, NetModel.VIRTIO);
        }

        @Override
        public Socket withModel(NetModel newModel) {
            return new Socket(local, peer, mac, newModel);
        }
    }

    /** The host's TAP interface {@code name}, created if it does not exist. */
    record Tap(String name, Optional<MacAddress> mac, NetModel model) implements NetSpec {
        public Tap {
            java.util.Objects.requireNonNull(model, "model");
        }

        /** A virtio-net card. */
        public Tap(String name, Optional<MacAddress> mac) {
            this(name, mac, NetModel.VIRTIO);
        }

        @Override
        public Tap withModel(NetModel newModel) {
            return new Tap(name, mac, newModel);
        }
    }

    /** Parses a spec; an IllegalArgumentException carries a one-line message naming what is wrong. */
    static NetSpec parse(String text) {
        int colon = text.indexOf(':');
        String kind = colon < 0 ? "" : text.substring(0, colon);
        String[] parts = text.substring(colon + 1).split(",", -1);
        return switch (kind) {
            case "socket" -> {
                if (parts.length < 2) {
                    throw new IllegalArgumentException("'" + text + "' needs two paths: socket:LOCAL_PATH,PEER_PATH[,mac=MAC]");
                }
                Path local = socketPath(text, "LOCAL_PATH", parts[0]);
                Path peer = socketPath(text, "PEER_PATH", parts[1]);
                if (local.toAbsolutePath().normalize().equals(peer.toAbsolutePath().normalize())) {
                    throw new IllegalArgumentException("LOCAL_PATH and PEER_PATH are the same file in '" + text + "'");
                }
                String[] options = Arrays.copyOfRange(parts, 2, parts.length);
                yield new Socket(local, peer, mac(text, options), model(text, options));
            }
            case "tap" -> {
                String[] options = Arrays.copyOfRange(parts, 1, parts.length);
                yield new Tap(TapBackend.validName(parts[0]), mac(text, options), model(text, options));
            }
            default -> throw new IllegalArgumentException("network backend must be " + USAGE + ", not '" + text + "'");
        };
    }

    private static Path socketPath(String spec, String role, String text) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException(role + " is empty in '" + spec + "'");
        }
        SockaddrUnLayout.pathBytes(text);
        try {
            return Path.of(text);
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("socket path '" + text + "' is not a valid path");
        }
    }

    private static Optional<MacAddress> mac(String spec, String[] options) {
        Optional<MacAddress> mac = Optional.empty();
        for (String option : options) {
            if (option.startsWith("model=")) {
                continue;
            }
            if (!option.startsWith("mac=")) {
                throw new IllegalArgumentException("unknown option '" + option + "' in '" + spec + "': the options are mac=MAC and model=virtio|e1000");
            }
            if (mac.isPresent()) {
                throw new IllegalArgumentException("mac given twice in '" + spec + "'");
            }
            mac = Optional.of(MacAddress.parse(option.substring("mac=".length())));
        }
        return mac;
    }

    private static NetModel model(String spec, String[] options) {
        NetModel model = null;
        for (String option : options) {
            if (option.startsWith("model=")) {
                if (model != null) {
                    throw new IllegalArgumentException("model given twice in '" + spec + "'");
                }
                model = NetModel.parse(option.substring("model=".length()));
            }
        }
        return model == null ? NetModel.VIRTIO : model;
    }
}
