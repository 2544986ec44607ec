package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.seal.PostCopyRestore;
import io.vmguard.seal.RestoreMode;
import io.vmguard.seal.SealedKey;
import io.vmguard.seal.SealedMemoryImage;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import io.vmguard.testing.RecordingDevice;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A KVM guest restored from sealed memory lazily: its vCPU runs before the helper has filled anything, so
 * KVM's own accesses (instruction fetch, page walks, the payload's loads and stores) wait on userfaultfd
 * until the helper decrypts their chunks, and the payload finishes exactly as the original does.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class KvmLazySealedRestoreTest {
    private static final int ANSWER = 0x12345678;
    private static final Pattern FAULTED = Pattern.compile("faulted=(\\d+)");

    @TempDir
    Path dir;

    @Test
    void aKvmVcpuRunsOnLazilyDecryptedMemoryAndFinishesLikeTheOriginal() throws Exception {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        UUID id = UUID.randomUUID();
        Path file = dir.resolve("vm.mem");
        List<GuestMemory.Range> layout = List.of(new GuestMemory.Range(0, LongModeSandbox.MIN_MEMORY));
        JsonNode saved;
        long expectedRbx;
        try (PayloadMachine original = KvmTestMachine.start("snapshot", Ring.USER, false)) {
            VcpuExit.IoIn in = assertInstanceOf(VcpuExit.IoIn.class, original.vcpu.run());
            RecordingDevice.store(in.data(), ANSWER);
            saved = KvmSnapshotTest.saveThroughJson(original);
            SealedMemoryImage.write(original.memory, file, id, key, new SealedKey(new byte[8], new byte[8]));
            expectedRbx = finish(original.vcpu);
        }
        GuestMemory memory = SealedMemoryImage.read(file, layout, id, key, MemoryBackend.ANONYMOUS, RestoreMode.LAZY);
        PostCopyRestore fill = (PostCopyRestore) memory.filling().orElseThrow(() -> new AssertionError("restored up front"));
        try (PayloadMachine restored = PayloadMachine.create(new KvmEngine(), memory)) {
            KvmSnapshotTest.restore(restored, saved);
            assertEquals(expectedRbx, finish(restored.vcpu), "the restored payload's sum");
            assertTrue(fill.awaitComplete(Duration.ofSeconds(60)), "the fill did not complete: " + fill.failure());
            Matcher faulted = FAULTED.matcher(fill.counts());
            assertTrue(faulted.find() && Long.parseLong(faulted.group(1)) > 0,
                    "the vCPU never waited on a fault (" + fill.counts() + "): the test proved nothing about KVM's accesses");
        }
    }

    /** Runs to the payload's exit, answering its IN; returns RBX, the payload's sum. */
    private static long finish(Vcpu vcpu) throws Exception {
        while (true) {
            VcpuExit exit = vcpu.run();
            switch (exit) {
                case VcpuExit.IoIn in when in.port() == PayloadHarness.NOTE_PORT -> RecordingDevice.store(in.data(), ANSWER);
                case VcpuExit.IoOut out when out.port() == PayloadHarness.RESULT_PORT -> { }
                case VcpuExit.IoOut out when out.port() == PayloadHarness.EXIT_PORT -> {
                    return vcpu.registers().rbx();
                }
                default -> fail("unexpected exit " + exit);
            }
        }
    }
}
