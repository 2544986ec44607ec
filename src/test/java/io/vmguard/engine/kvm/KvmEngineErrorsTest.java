package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.engine.EngineException;
import io.vmguard.memory.GuestMemory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The KVM engine explains in one line why it cannot start. */
class KvmEngineErrorsTest {
    @TempDir
    Path temp;

    @Test
    void aMissingDeviceSaysThereIsNoKvmAndPointsToTheInterpreter() throws Exception {
        Path missing = temp.resolve("kvm");
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 1 << 20)))) {
            EngineException e = assertThrows(EngineException.class, () -> new KvmEngine(missing).createVm(memory));
            assertEquals(missing + " not found: this host has no KVM (use --engine interp)", e.getMessage());
        }
    }

    @Test
    void theDefaultDeviceIsDevKvm() {
        assertEquals(Path.of("/dev/kvm"), KvmEngine.DEFAULT_DEVICE);
        assertEquals("kvm", new KvmEngine().name());
        assertTrue(new KvmEngine().runsGuestCodeNatively(), "so the guest decompresses its own kernel (LinuxBoot)");
    }

    @Test
    void aDeviceThatIsNotKvmIsNamedAsSuch() throws Exception {
        Path devNull = Path.of("/dev/null");
        assumeTrue(Files.isWritable(devNull), "/dev/null is not writable here");
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 1 << 20)))) {
            EngineException e = assertThrows(EngineException.class, () -> new KvmEngine(devNull).createVm(memory));
            assertEquals("/dev/null is not a KVM device (KVM_GET_API_VERSION: Inappropriate ioctl for device)", e.getMessage());
        }
    }

    @Test
    void guestMemoryThatIsNotPageAlignedIsRefusedBeforeKvmSeesIt() throws Exception {
        KvmTestMachine.assumeKvm();
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 4096 + 512)))) {
            EngineException e = assertThrows(EngineException.class, () -> new KvmEngine().createVm(memory));
            assertEquals("guest memory region 0x0+0x1200 is not 4 KiB aligned, which KVM requires", e.getMessage());
        }
    }

    @Test
    void guestMemoryOverKvmsPrivatePagesIsRefused() throws Exception {
        KvmTestMachine.assumeKvm();
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0xfff00000L, 0x100000)))) {
            EngineException e = assertThrows(EngineException.class, () -> new KvmEngine().createVm(memory));
            assertEquals("guest memory region 0xfff00000+0x100000 overlaps KVM's private pages at 0xfffbc000-0xfffc0000",
                    e.getMessage());
        }
    }
}
