package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import io.vmguard.net.NetSpec;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.block.DiskConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotFileTest {
    @TempDir
    Path dir;

    private final VmConfig config = new VmConfig(Path.of("/k/vmlinux"), Path.of("/k/initrd"), "console=ttyS0", 64 << 20,
            "interp", new SerialTarget.Null(), List.of(new DiskConfig(Path.of("/d/disk.img"), true)),
            List.of(NetSpec.parse("socket:/s/a,/s/b,mac=02:00:00:00:00:07"), NetSpec.parse("tap:t0,model=e1000")),
            Optional.of(new SerialTarget.Null()),
            VirtioTransport.MMIO);

    @Test
    void writtenSnapshotReadsBackWithItsConfigurationAndLayout() throws Exception {
        UUID id = UUID.randomUUID();
        try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(64 << 20))) {
            StateWriter root = SnapshotFile.begin(id, "interp", config, memory);
            root.child("devices").putInt("marker", 5);
            SnapshotFile.write(dir.resolve("vm.snap"), dir.resolve("vm.mem"), root, memory, id);
        }
        SnapshotFile.Loaded loaded = SnapshotFile.read(dir.resolve("vm.snap"));
        assertEquals(id, loaded.id());
        assertEquals("interp", loaded.engine());
        assertEquals(X86Layout.ramRanges(64 << 20), loaded.layout());
        assertEquals(config.disks(), loaded.config().disks());
        assertEquals(config.nets(), loaded.config().nets());
        assertEquals(config.commandLine(), loaded.config().commandLine());
        assertEquals(VirtioTransport.MMIO, loaded.config().virtioTransport());
        assertTrue(loaded.config().console().isPresent());
        assertEquals(5, loaded.root().child("devices").getInt("marker"));
        try (var files = Files.list(dir)) {
            assertEquals(2, files.count(), "no temporary file is left behind");
        }
    }

    @Test
    void aRestoresNetworkOverrideChangesTheBackendButKeepsTheCardModel() throws Exception {
        VmConfig restored = new RestoreOptions(new SerialTarget.Null(), Optional.empty(),
                java.util.Map.of(1, NetSpec.parse("socket:/s/c,/s/d")), java.util.Map.of()).applyTo(config);
        assertEquals(NetSpec.parse("socket:/s/c,/s/d,model=e1000"), restored.nets().get(1));
        assertEquals(config.nets().getFirst(), restored.nets().getFirst());
    }

    @Test
    void corruptJsonIsRefusedWithItsPosition() throws Exception {
        Path file = dir.resolve("bad.snap");
        Files.writeString(file, "{\"format\": \"vmguard-snapshot\",\n \"version\": 1,");
        assertRefused(file, "is not valid JSON (line 2");
    }

    @Test
    void otherFormatsAndVersionsAreRefused() throws Exception {
        Path file = dir.resolve("other.snap");
        Files.writeString(file, "{\"format\": \"firecracker\", \"version\": 1}");
        assertRefused(file, "is not a vmguard snapshot");
        Files.writeString(file, "{\"format\": \"vmguard-snapshot\", \"version\": 99}");
        assertRefused(file, "has format version 99");
    }

    @Test
    void missingOrMistypedFieldsAreNamed() throws Exception {
        Path file = dir.resolve("fields.snap");
        Files.writeString(file, "{\"format\": \"vmguard-snapshot\", \"version\": 1, \"id\": \"" + UUID.randomUUID()
                + "\", \"engine\": \"interp\", \"vm\": {\"kernel\": \"/k\", \"command_line\": \"x\", \"memory_bytes\": \"big\"}}");
        assertRefused(file, "vm.virtio_transport is missing");
        Files.writeString(file, "{\"format\": \"vmguard-snapshot\", \"version\": 1, \"id\": \"" + UUID.randomUUID()
                + "\", \"engine\": \"interp\", \"vm\": {\"kernel\": \"/k\", \"command_line\": \"x\", \"memory_bytes\": \"big\","
                + " \"virtio_transport\": \"pci\", \"console\": false}}");
        assertRefused(file, "vm.memory_bytes should be a 64-bit integer");
    }

    @Test
    void aHugeFileIsNotRead() throws Exception {
        Path file = dir.resolve("huge.snap");
        try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(SnapshotFile.MAX_STATE_BYTES + 1);
        }
        assertRefused(file, "more than a state file can be");
    }

    @Test
    void aMissingFileIsNamed() {
        assertRefused(dir.resolve("absent.snap"), "cannot read snapshot");
    }

    private static void assertRefused(Path file, String expected) {
        SnapshotException error = assertThrows(SnapshotException.class, () -> SnapshotFile.read(file));
        assertTrue(error.getMessage().contains(expected), error.getMessage());
        assertTrue(!error.getMessage().contains("\n"), "one line: " + error.getMessage());
    }
}
