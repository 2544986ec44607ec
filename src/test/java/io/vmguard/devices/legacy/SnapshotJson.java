package io.vmguard.devices.legacy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.io.IOException;
import java.util.function.Consumer;

/** A device's state as a snapshot file has it: saved, written as JSON text, parsed back. */
final class SnapshotJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SnapshotJson() {}

    static ObjectNode save(Snapshottable device) throws IOException {
        StateWriter out = StateWriter.root();
        device.saveState(out);
        return (ObjectNode) JSON.readTree(JSON.writeValueAsString(out.tree()));
    }

    /** Saves {@code from} through JSON and restores {@code to} from it. */
    static void copy(Snapshottable from, Snapshottable to) throws IOException, SnapshotException {
        to.restoreState(StateReader.of(save(from)));
    }

    /** Restores {@code to} from {@code from}'s state after {@code corrupt} changed it. */
    static void copyCorrupted(Snapshottable from, Consumer<ObjectNode> corrupt, Snapshottable to)
            throws IOException, SnapshotException {
        ObjectNode tree = save(from);
        corrupt.accept(tree);
        to.restoreState(StateReader.of(tree));
    }
}
