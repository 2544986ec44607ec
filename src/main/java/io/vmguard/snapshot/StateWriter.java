package io.vmguard.snapshot;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Where a part of the machine writes its state: a tree of named values (numbers, flags, strings, byte
 * arrays as base64, arrays of numbers) and named children. The snapshot file is this tree as JSON, so
 * every field is named and a reader can say which one is wrong.
 */
public final class StateWriter {
    private final ObjectNode node;

    private StateWriter(ObjectNode node) {
        this.node = node;
    }

    /** An empty tree. */
    public static StateWriter root() {
        return new StateWriter(JsonNodeFactory.instance.objectNode());
    }

    public StateWriter putLong(String key, long value) {
        node.put(key, value);
        return this;
    }

    public StateWriter putInt(String key, int value) {
        node.put(key, value);
        return this;
    }

    public StateWriter putBoolean(String key, boolean value) {
        node.put(key, value);
        return this;
    }

    public StateWriter putString(String key, String value) {
        node.put(key, value);
        return this;
    }

    /** Bytes, stored as base64. */
    public StateWriter putBytes(String key, byte[] value) {
        node.put(key, value);
        return this;
    }

    public StateWriter putLongs(String key, long[] values) {
        ArrayNode array = node.putArray(key);
        for (long value : values) {
            array.add(value);
        }
        return this;
    }

    public StateWriter putInts(String key, int[] values) {
        ArrayNode array = node.putArray(key);
        for (int value : values) {
            array.add(value);
        }
        return this;
    }

    /** A named child tree (created on first use). */
    public StateWriter child(String key) {
        return new StateWriter(node.has(key) ? (ObjectNode) node.get(key) : node.putObject(key));
    }

    /** Appends a new child tree to the list {@code key}. */
    public StateWriter append(String key) {
        ArrayNode array = node.has(key) ? (ArrayNode) node.get(key) : node.putArray(key);
        return new StateWriter(array.addObject());
    }

    /** Lets {@code part} write itself into the child {@code key}. */
    public StateWriter save(String key, Snapshottable part) {
        part.saveState(child(key));
        return this;
    }

    /** The tree, for the snapshot file. */
    public ObjectNode tree() {
        return node;
    }
}
