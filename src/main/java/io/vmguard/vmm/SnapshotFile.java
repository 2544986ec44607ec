package io.vmguard.vmm;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.vmguard.files.StagedFile;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryImage;
import io.vmguard.net.NetSpec;
import io.vmguard.seal.PendingDataKey;
import io.vmguard.seal.SealException;
import io.vmguard.seal.SealedKey;
import io.vmguard.seal.SealedMemoryImage;
import io.vmguard.seal.SealedState;
import io.vmguard.seal.SealingTpm;
import io.vmguard.snapshot.Phases;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.block.DiskConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The snapshot's state file (JSON, documented in docs/snapshots.md) and how it is written: both files go to
 * temporary names beside their targets, are forced to disk, then renamed over the targets (memory first),
 * and the directories are synced. A crash before the renames leaves the previous snapshot as it was; a
 * crash between them leaves a pair whose ids differ, which a restore refuses by name.
 */
final class SnapshotFile {
    static final String FORMAT = "vmguard-snapshot";
    static final int VERSION = 1;
    /** A state file is a few hundred KiB at most (device state, no memory); anything far larger is not one. */
    static final long MAX_STATE_BYTES = 16L << 20;
    private static final int MAX_DEVICES = 64;

    private static final ObjectMapper JSON = JsonMapper.builder().build();

    private SnapshotFile() {}

    /** The state file's parsed content, checked for format and version. */
    record Loaded(StateReader root, UUID id, String engine, VmConfig config, List<GuestMemory.Range> layout,
                  Optional<byte[]> sealKey) {}

    /** Builds the JSON reader's machinery once, so a restore does not pay for it (see {@link WarmUp}). */
    static void warmUp() {
        try {
            StateReader.of(JSON.readTree("{\"format\": \"\", \"version\": 0, \"regions\": [{\"start\": 0}]}"));
        } catch (IOException | SnapshotException e) {
            throw new IllegalStateException("the warm-up document does not parse", e);
        }
    }

    /** Writes the state tree and guest memory; returns the bytes of memory written. */
    static long write(Path statePath, Path memoryPath, StateWriter state, GuestMemory memory, UUID id) throws IOException {
        try {
            return write(statePath, memoryPath, state, memory, id, Optional.empty());
        } catch (SealException e) {
            throw new IllegalStateException("nothing is sealed here", e);
        }
    }

    /**
     * As {@link #write(Path, Path, StateWriter, GuestMemory, UUID)}, sealed with {@code key} when there is one: the
     * data key encrypts both files ({@link SealedMemoryImage}, {@link SealedState}), its seal by the owner's TPM
     * started earlier so that it overlapped the devices' saving.
     */
    static long write(Path statePath, Path memoryPath, StateWriter state, GuestMemory memory, UUID id,
                                Optional<PendingDataKey> key) throws IOException, SealException {
        try (StagedFile memoryFile = StagedFile.beside(memoryPath); StagedFile stateFile = StagedFile.beside(statePath)) {
            byte[] stateBytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(state.tree());
            long written;
            if (key.isPresent()) {
                SealedKey sealedKey = key.get().sealedKey();
                written = SealedMemoryImage.write(memory, memoryFile.temporary(), id, key.get().key(), sealedKey);
                stateBytes = SealedState.seal(stateBytes, id, key.get().key(), sealedKey);
            } else {
                written = MemoryImage.write(memory, memoryFile.temporary(), id);
            }
            java.nio.ByteBuffer bytes = java.nio.ByteBuffer.wrap(stateBytes);
            while (bytes.hasRemaining()) {
                stateFile.channel().write(bytes);
            }
            long t1 = System.nanoTime();
            StagedFile.commitTogether(memoryFile, stateFile); // memory first: see the class comment
            Phases.since("save.state_file_and_renames", t1);
            return written;
        }
    }

    /** Reads and checks a state file: bounded, valid JSON, this format and version. */
    static Loaded read(Path statePath) throws SnapshotException {
        return read(statePath, Optional.empty());
    }

    /**
     * As {@link #read(Path)}; a sealed state file is opened with {@code seal} (the owner's TPM unseals its key,
     * which the memory file needs too), and without it is refused in one line.
     */
    static Loaded read(Path statePath, Optional<SealingTpm> seal) throws SnapshotException {
        JsonNode tree;
        byte[] sealKey = null;
        try {
            long size = Files.size(statePath);
            if (size > MAX_STATE_BYTES) {
                throw new SnapshotException("snapshot " + statePath + " is " + size + " bytes, more than a state file can be ("
                        + MAX_STATE_BYTES + ")");
            }
            byte[] bytes = Files.readAllBytes(statePath);
            if (SealedState.isSealed(bytes)) {
                String what = "snapshot " + statePath;
                if (seal.isEmpty()) {
                    throw new SnapshotException(what + " is sealed: restore it with --seal DIR, the TPM that sealed it");
                }
                try {
                    long t0 = System.nanoTime();
                    sealKey = seal.get().unseal(SealedState.open(bytes, what).key());
                    Phases.since("restore.key_unseal", t0);
                    bytes = SealedState.unseal(bytes, sealKey, what);
                } catch (SealException e) {
                    throw new SnapshotException(e.getMessage(), e);
                }
            }
            try (InputStream in = new java.io.ByteArrayInputStream(bytes)) {
                tree = JSON.readTree(in);
            }
        } catch (JacksonException e) {
            throw new SnapshotException("snapshot " + statePath + " is not valid JSON (line "
                    + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")");
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot " + statePath + ": " + e.getMessage(), e);
        }
        StateReader root = StateReader.of(tree);
        String format = root.getString("format");
        if (!format.equals(FORMAT)) {
            throw new SnapshotException("snapshot " + statePath + " is not a vmguard snapshot (format '" + format + "')");
        }
        int version = root.getInt("version");
        if (version != VERSION) {
            throw new SnapshotException("snapshot " + statePath + " has format version " + version + "; this vmguard reads version "
                    + VERSION);
        }
        UUID id;
        try {
            id = UUID.fromString(root.getString("id"));
        } catch (IllegalArgumentException e) {
            throw new SnapshotException("snapshot field id is not a UUID");
        }
        String engine = root.getString("engine");
        VmConfig config = readConfig(root.child("vm"), engine);
        List<GuestMemory.Range> layout = new ArrayList<>();
        for (StateReader region : root.child("memory").list("regions", 8)) {
            try {
                layout.add(new GuestMemory.Range(region.getLong("start"), region.getLong("size", 4096, 1L << 46)));
            } catch (IllegalArgumentException e) {
                throw new SnapshotException("snapshot field " + region.path() + ": " + e.getMessage());
            }
            if (layout.getLast().start() % 4096 != 0 || layout.getLast().size() % 4096 != 0) {
                throw new SnapshotException("snapshot field " + region.path() + " is not page-aligned");
            }
        }
        if (layout.isEmpty()) {
            throw new SnapshotException("snapshot field memory.regions is empty");
        }
        return new Loaded(root, id, engine, config, layout, Optional.ofNullable(sealKey));
    }

    /** The header every state file starts with, and the configuration the VM was built from. */
    static StateWriter begin(UUID id, String engine, VmConfig config, GuestMemory memory) {
        StateWriter root = StateWriter.root()
                .putString("format", FORMAT)
                .putInt("version", VERSION)
                .putString("id", id.toString())
                .putString("engine", engine)
                .putString("created", java.time.Instant.now().toString());
        writeConfig(root.child("vm"), config);
        StateWriter layout = root.child("memory");
        layout.putString("file_layout", "one 4 KiB header page, then each region in order; zero pages are holes");
        for (var region : memory.regions()) {
            layout.append("regions").putLong("start", region.start()).putLong("size", region.size());
        }
        return root;
    }

    private static void writeConfig(StateWriter out, VmConfig config) {
        out.putString("kernel", config.kernel().toString());
        if (config.initrd() != null) {
            out.putString("initrd", config.initrd().toString());
        }
        out.putString("command_line", config.commandLine())
                .putLong("memory_bytes", config.memoryBytes())
                .putString("virtio_transport", config.virtioTransport().name().toLowerCase(java.util.Locale.ROOT))
                .putBoolean("console", config.console().isPresent())
                .putBoolean("iommu", config.iommu())
                .putBoolean("dma_test_device", config.dmaTestDevice())
                .putLong("vcpus", config.vcpus());
        for (DiskConfig disk : config.disks()) {
            out.append("disks").putString("path", disk.path().toString()).putBoolean("read_only", disk.readOnly())
                    .putString("serial", disk.serial());
        }
        for (NetSpec net : config.nets()) {
            out.append("nets").putString("backend", describe(net));
        }
    }

    private static VmConfig readConfig(StateReader in, String engine) throws SnapshotException {
        try {
            Path kernel = Path.of(in.getString("kernel"));
            Path initrd = in.has("initrd") ? Path.of(in.getString("initrd")) : null;
            VirtioTransport transport = VirtioTransport.parse(in.getString("virtio_transport"));
            List<DiskConfig> disks = new ArrayList<>();
            if (in.has("disks")) {
                for (StateReader disk : in.list("disks", MAX_DEVICES)) {
                    disks.add(new DiskConfig(Path.of(disk.getString("path")), disk.getBoolean("read_only"), disk.getString("serial")));
                }
            }
            List<NetSpec> nets = new ArrayList<>();
            if (in.has("nets")) {
                for (StateReader net : in.list("nets", MAX_DEVICES)) {
                    nets.add(NetSpec.parse(net.getString("backend")));
                }
            }
            // Consoles are chosen at restore; a snapshot only says whether there was a virtio console.
            Optional<SerialTarget> console = in.getBoolean("console") ? Optional.of(new SerialTarget.Null()) : Optional.empty();
            return new VmConfig(kernel, initrd, in.getString("command_line"), in.getLong("memory_bytes", 1, 1L << 46), engine,
                    new SerialTarget.Null(), disks, nets, console, transport,
                    in.getBoolean("iommu"), in.getBoolean("dma_test_device"),
                    in.has("vcpus") ? in.getInt("vcpus", 1, VmConfig.MAX_VCPUS) : 1); // before SMP: one
        } catch (IllegalArgumentException e) { // bad paths (InvalidPathException) too
            throw new SnapshotException("snapshot field " + (in.path().isEmpty() ? "vm" : in.path()) + ": " + e.getMessage());
        }
    }

    /** A network backend in the syntax {@link NetSpec#parse} reads. */
    static String describe(NetSpec net) {
        String mac = net.mac().map(m -> ",mac=" + m).orElse("")
                + (net.model() == io.vmguard.net.NetModel.VIRTIO ? "" : ",model=" + net.model().label());
        return switch (net) {
            case NetSpec.Socket socket -> "socket:" + socket.local() + "," + socket.peer() + mac;
            case NetSpec.Tap tap -> "tap:" + tap.name() + mac;
        };
    }



    /** Makes the renames durable: a directory's entries reach the disk only when the directory is synced. */
}
