package io.vmguard.snapshot;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads back what a {@link StateWriter} wrote. A snapshot file is untrusted: every getter checks that the
 * field exists and has the right type and range, and fails with a {@link SnapshotException} naming the
 * field's path (for example {@code devices.virtio.2.queues.0.size}).
 */
public final class StateReader {
    private final JsonNode node;
    private final String path;

    private StateReader(JsonNode node, String path) {
        this.node = node;
        this.path = path;
    }

    /** The root of a parsed tree. */
    public static StateReader of(JsonNode tree) throws SnapshotException {
        if (tree == null || !tree.isObject()) {
            throw new SnapshotException("snapshot state is not a JSON object");
        }
        return new StateReader(tree, "");
    }

    public boolean has(String key) {
        return node.has(key);
    }

    public long getLong(String key) throws SnapshotException {
        JsonNode value = field(key);
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            throw wrong(key, "a 64-bit integer", value);
        }
        return value.longValue();
    }

    /** A long in {@code [min, max]}. */
    public long getLong(String key, long min, long max) throws SnapshotException {
        long value = getLong(key);
        if (value < min || value > max) {
            throw new SnapshotException("snapshot field " + name(key) + " is " + value + ", outside " + min + ".." + max);
        }
        return value;
    }

    public int getInt(String key) throws SnapshotException {
        JsonNode value = field(key);
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            throw wrong(key, "a 32-bit integer", value);
        }
        return value.intValue();
    }

    /** An int in {@code [min, max]}. */
    public int getInt(String key, int min, int max) throws SnapshotException {
        return (int) getLong(key, min, max);
    }

    public boolean getBoolean(String key) throws SnapshotException {
        JsonNode value = field(key);
        if (!value.isBoolean()) {
            throw wrong(key, "true or false", value);
        }
        return value.booleanValue();
    }

    public String getString(String key) throws SnapshotException {
        JsonNode value = field(key);
        if (!value.isTextual()) {
            throw wrong(key, "a string", value);
        }
        return value.textValue();
    }

    public byte[] getBytes(String key) throws SnapshotException {
        JsonNode value = field(key);
        if (!value.isTextual() && !value.isBinary()) {
            throw wrong(key, "base64 bytes", value);
        }
        try {
            return value.binaryValue();
        } catch (IOException | IllegalArgumentException e) {
            throw new SnapshotException("snapshot field " + name(key) + " is not valid base64");
        }
    }

    /** Bytes that must be exactly {@code length} long. */
    public byte[] getBytes(String key, int length) throws SnapshotException {
        byte[] bytes = getBytes(key);
        if (bytes.length != length) {
            throw new SnapshotException("snapshot field " + name(key) + " has " + bytes.length + " bytes, expected " + length);
        }
        return bytes;
    }

    /** An array of exactly {@code length} 64-bit integers. */
    public long[] getLongs(String key, int length) throws SnapshotException {
        JsonNode value = array(key, length);
        long[] result = new long[length];
        for (int i = 0; i < length; i++) {
            JsonNode element = value.get(i);
            if (!element.isIntegralNumber() || !element.canConvertToLong()) {
                throw wrong(key + "." + i, "a 64-bit integer", element);
            }
            result[i] = element.longValue();
        }
        return result;
    }

    /** An array of exactly {@code length} 32-bit integers. */
    public int[] getInts(String key, int length) throws SnapshotException {
        JsonNode value = array(key, length);
        int[] result = new int[length];
        for (int i = 0; i < length; i++) {
            JsonNode element = value.get(i);
            if (!element.isIntegralNumber() || !element.canConvertToInt()) {
                throw wrong(key + "." + i, "a 32-bit integer", element);
            }
            result[i] = element.intValue();
        }
        return result;
    }

    public StateReader child(String key) throws SnapshotException {
        JsonNode value = field(key);
        if (!value.isObject()) {
            throw wrong(key, "an object", value);
        }
        return new StateReader(value, name(key));
    }

    /** The list {@code key} of child trees (as written by {@link StateWriter#append}), at most {@code max} long. */
    public List<StateReader> list(String key, int max) throws SnapshotException {
        JsonNode value = field(key);
        if (!value.isArray()) {
            throw wrong(key, "a list", value);
        }
        if (value.size() > max) {
            throw new SnapshotException("snapshot field " + name(key) + " has " + value.size() + " entries, at most " + max + " allowed");
        }
        List<StateReader> children = new ArrayList<>();
        for (int i = 0; i < value.size(); i++) {
            JsonNode element = value.get(i);
            if (!element.isObject()) {
                throw wrong(key + "." + i, "an object", element);
            }
            children.add(new StateReader(element, name(key) + "." + i));
        }
        return children;
    }

    /** Lets {@code part} restore itself from the child {@code key}. */
    public void restore(String key, Snapshottable part) throws SnapshotException {
        part.restoreState(child(key));
    }

    /** This tree's path from the root, for messages ("" at the root). */
    public String path() {
        return path;
    }

    private JsonNode array(String key, int length) throws SnapshotException {
        JsonNode value = field(key);
        if (!value.isArray()) {
            throw wrong(key, "a list", value);
        }
        if (value.size() != length) {
            throw new SnapshotException("snapshot field " + name(key) + " has " + value.size() + " entries, expected " + length);
        }
        return value;
    }

    private JsonNode field(String key) throws SnapshotException {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            throw new SnapshotException("snapshot field " + name(key) + " is missing");
        }
        return value;
    }

    private SnapshotException wrong(String key, String expected, JsonNode found) {
        String shown = found.toString();
        if (shown.length() > 40) {
            shown = shown.substring(0, 40) + "...";
        }
        return new SnapshotException("snapshot field " + name(key) + " should be " + expected + ", found " + shown);
    }

    private String name(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}
