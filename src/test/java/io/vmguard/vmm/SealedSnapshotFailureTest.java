package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.VmEvents;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.seal.SealingTpm;
import io.vmguard.testing.TinyKernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A sealed snapshot that cannot be sealed fails in one line and leaves the snapshot already at its paths as it was. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class SealedSnapshotFailureTest {
    @TempDir
    Path dir;

    @Test
    void whenTheOwnersTpmCannotSealTheOldSnapshotStaysAndNoTemporaryFileIsLeft() throws Exception {
        Path kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.spin());
        Path state = dir.resolve("vm.snap");
        Path memory = dir.resolve("vm.mem");
        // An owner's TPM directory other users may enter: the TPM refuses to start there, so nothing can be sealed.
        Path open = Files.createDirectory(dir.resolve("open-tpm"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        VmConfig config = new VmConfig(kernel, null, "console=ttyS0", 32L << 20, "interp", new SerialTarget.Null());
        try (Vm vm = Vm.create(config, new InterpEngine(), VmEvents.none(),
                new GuestProtection(Optional.empty(), MemoryBackend.ANONYMOUS, Optional.of(new SealingTpm(open, new byte[0]))))) {
            vm.start();
            vm.pause();
            vm.snapshot(state, memory, Optional.empty()); // the snapshot that must survive
            byte[] stateBefore = sha256(state);
            byte[] memoryBefore = sha256(memory);
            VmException e = assertThrows(VmException.class, () -> vm.snapshot(state, memory));
            assertTrue(e.getMessage().contains("chmod 700") && e.getMessage().lines().count() == 1, e.getMessage());
            assertArrayEquals(stateBefore, sha256(state), "the old state file changed");
            assertArrayEquals(memoryBefore, sha256(memory), "the old memory file changed");
            try (Stream<Path> files = Files.list(dir)) {
                assertFalse(files.anyMatch(f -> f.getFileName().toString().endsWith(".tmp")), "a temporary file was left");
            }
            assertEquals(VmState.PAUSED, vm.state(), "the VM is as it was");
        }
    }

    @Test
    void aSnapshotSealedToPcrsRestoresUntilOneIsExtendedThenFailsInOneLineAndKeepsItsFiles() throws Exception {
        Path kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.spin());
        Path state = dir.resolve("vm.snap");
        Path memory = dir.resolve("vm.mem");
        SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), "owner".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                io.vmguard.seal.PcrSelection.parse("0,7"));
        GuestProtection sealed = new GuestProtection(Optional.empty(), MemoryBackend.ANONYMOUS, Optional.of(owner));
        VmConfig config = new VmConfig(kernel, null, "console=ttyS0", 32L << 20, "interp", new SerialTarget.Null());
        try (Vm vm = Vm.create(config, new InterpEngine(), VmEvents.none(), sealed)) {
            vm.start();
            vm.pause();
            vm.snapshot(state, memory);
        }
        try (Vm restored = Vm.restore(state, memory, new InterpEngine(), RestoreOptions.to(new SerialTarget.Null()), VmEvents.none(), sealed)) {
            assertEquals(VmState.PAUSED, restored.state());
        }
        byte[] stateBefore = sha256(state);
        byte[] memoryBefore = sha256(memory);
        owner.extend(7, MessageDigest.getInstance("SHA-256").digest(new byte[] {1}));
        VmException e = assertThrows(VmException.class, () -> Vm.restore(state, memory, new InterpEngine(),
                RestoreOptions.to(new SerialTarget.Null()), VmEvents.none(), sealed));
        assertTrue(e.getMessage().contains("PCRs [0, 7] differ") && e.getMessage().lines().count() == 1, e.getMessage());
        assertArrayEquals(stateBefore, sha256(state), "a refused restore changed the state file");
        assertArrayEquals(memoryBefore, sha256(memory), "a refused restore changed the memory file");
    }

    private static byte[] sha256(Path file) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
    }
}
