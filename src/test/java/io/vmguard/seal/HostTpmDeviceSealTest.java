package io.vmguard.seal;

import static io.vmguard.seal.SealTestValues.AUTH;
import static io.vmguard.seal.SealTestValues.PCRS_0_7;
import static io.vmguard.seal.SealTestValues.digest;
import static io.vmguard.seal.SealTestValues.freshKey;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.ByteSearch;
import io.vmguard.tpm.TpmDevice;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sealing with a TPM character device, the host's /dev/tpmrm0 in production: here a swtpm in character-device
 * mode on a SOCK_SEQPACKET socket pair, which the harness started up as the kernel does at boot. A key seals
 * and unseals (bound to the value alone and to PCRs; neither the key nor the value crosses the device in
 * clear), another value or an extended PCR or another TPM is a one-line refusal, vmguard never sends
 * TPM2_Startup or TPM2_Shutdown to a device, and each use opens and closes its own descriptor. A device path that is missing, not a character device, or not a TPM is a
 * one-line error naming the path.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class HostTpmDeviceSealTest {
    private static final int CC_STARTUP = 0x144;
    private static final int CC_SHUTDOWN = 0x145;
    private static final int CC_UNSEAL = 0x15e;
    private static final int CC_GET_RANDOM = 0x17b;

    @TempDir
    Path dir;

    private static SealingTpm sealer(SwtpmCharDevice device, byte[] auth, int pcrs) {
        return SealingTpm.onDevice("the test's TPM device", device::open, auth, pcrs);
    }

    @Test
    void aKeySealsAndUnsealsThroughTheDeviceWithoutStartupOrShutdownAndOneOpenPerUse() throws Exception {
        try (SwtpmCharDevice device = SwtpmCharDevice.start(dir.resolve("host-tpm"))) {
            List<Integer> commands = new ArrayList<>();
            java.io.ByteArrayOutputStream wire = new java.io.ByteArrayOutputStream();
            int[] unsealed = {0};
            SealingTpm tpm = sealer(device, AUTH, 0).tapped((command, response) -> {
                wire.writeBytes(command);
                wire.writeBytes(response);
                int code = ByteBuffer.wrap(command).getInt(6);
                commands.add(code);
                if (code == CC_UNSEAL && ByteBuffer.wrap(response).getInt(6) == 0) {
                    unsealed[0]++;
                }
            });
            byte[] key = freshKey();
            SealedKey sealed = tpm.seal(key);
            assertArrayEquals(key, tpm.unseal(sealed), "the key does not come back");
            assertArrayEquals(key, tpm.unseal(sealed), "a second use on a fresh open fails");
            assertEquals(2, unsealed[0], "the recording missed the TPM2_Unseal commands: " + commands);
            assertTrue(commands.size() > 10, "too few commands recorded: " + commands);
            assertTrue(commands.stream().noneMatch(code -> code == CC_STARTUP || code == CC_SHUTDOWN),
                    "vmguard powered the device itself: " + commands.stream().map(Integer::toHexString).toList());
            assertEquals(3, device.opens(), "one open per use");
            assertEquals(0, ByteSearch.count(wire.toByteArray(), key), "the data key crossed the device in clear");
            assertEquals(0, ByteSearch.count(wire.toByteArray(), AUTH), "the authorisation value crossed the device in clear");
        }
    }

    @Test
    void theStartupProbeReachesTheDeviceWithOneHarmlessCommand() throws Exception {
        try (SwtpmCharDevice device = SwtpmCharDevice.start(dir.resolve("host-tpm"))) {
            List<Integer> commands = new ArrayList<>();
            sealer(device, AUTH, 0).tapped((command, response) -> commands.add(ByteBuffer.wrap(command).getInt(6))).probe();
            assertEquals(List.of(CC_GET_RANDOM), commands);
            assertEquals(1, device.opens());
        }
    }

    @Test
    void anotherAuthorisationValueIsAOneLineRefusal() throws Exception {
        try (SwtpmCharDevice device = SwtpmCharDevice.start(dir.resolve("host-tpm"))) {
            SealedKey sealed = sealer(device, AUTH, 0).seal(freshKey());
            SealException e = assertThrows(SealException.class,
                    () -> sealer(device, "guess".getBytes(StandardCharsets.US_ASCII), 0).unseal(sealed));
            assertTrue(e.getMessage().contains("authorisation value"), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
    }

    @Test
    void aKeyBoundToTheDevicesPcrsIsLockedOutOnceOneIsExtended() throws Exception {
        try (SwtpmCharDevice device = SwtpmCharDevice.start(dir.resolve("host-tpm"))) {
            SealingTpm tpm = sealer(device, AUTH, PCRS_0_7);
            tpm.extend(7, digest("the host booted as the owner expects"));
            byte[] key = freshKey();
            SealedKey sealed = tpm.seal(key);
            assertEquals(PCRS_0_7, sealed.pcrs());
            assertArrayEquals(key, tpm.unseal(sealed), "the key does not unseal with its PCRs unchanged");
            tpm.extend(7, digest("something else ran"));
            SealException e = assertThrows(SealException.class, () -> tpm.unseal(sealed));
            assertTrue(e.getMessage().contains("PCRs [0, 7] differ"), e.getMessage());
            assertTrue(e.getMessage().contains("the test's TPM device"), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
    }

    @Test
    void aKeySealedByOneDeviceDoesNotUnsealOnAnother() throws Exception {
        SealedKey sealed;
        try (SwtpmCharDevice device = SwtpmCharDevice.start(dir.resolve("host-tpm"))) {
            sealed = sealer(device, AUTH, 0).seal(freshKey());
        }
        try (SwtpmCharDevice other = SwtpmCharDevice.start(dir.resolve("other-host-tpm"))) {
            SealException e = assertThrows(SealException.class, () -> sealer(other, AUTH, 0).unseal(sealed));
            assertTrue(e.getMessage().contains("another TPM"), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
    }

    @Test
    void aDumpSealedByTheDeviceOpensOnlyThroughIt() throws Exception {
        byte[] content = new byte[300_000];
        byte[] marker = "a secret the guest held".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(marker, 0, content, 200_000, marker.length);
        Path sealed = dir.resolve("vm.core.sealed");
        try (SwtpmCharDevice device = SwtpmCharDevice.start(dir.resolve("host-tpm"))) {
            try (SealedDump.Writer writer = SealedDump.Writer.create(sealed, SealedDump.Key.fresh(sealer(device, AUTH, PCRS_0_7)))) {
                writer.write(ByteBuffer.wrap(content), 0);
                writer.commit();
            }
            assertEquals(0, ByteSearch.count(Files.readAllBytes(sealed), marker), "the marker is in the sealed file");
            Path out = dir.resolve("vm.core");
            SealedDump.unseal(sealed, out, sealer(device, AUTH, 0)); // the PCRs come from the file
            assertArrayEquals(content, Files.readAllBytes(out));
        }
        SealException e = assertThrows(SealException.class,
                () -> SealedDump.unseal(sealed, dir.resolve("again"), new SealingTpm(dir.resolve("owner-tpm"), AUTH)));
        assertTrue(e.getMessage().contains("another TPM"), e.getMessage());
        assertTrue(Files.notExists(dir.resolve("again")));
    }

    @Test
    void aMissingPathIsAOneLineErrorNamingIt() {
        Path missing = dir.resolve("tpmrm9");
        SealException e = assertThrows(SealException.class, () -> SealingTpm.onDevice(missing, AUTH, 0).seal(freshKey()));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("no TPM device"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    @Test
    void aRegularFileIsRefusedAndNothingIsWrittenToIt() throws Exception {
        Path file = Files.createFile(dir.resolve("not-a-tpm"));
        SealException e = assertThrows(SealException.class, () -> SealingTpm.onDevice(file, AUTH, 0).seal(freshKey()));
        assertTrue(e.getMessage().contains(file + " is not a character device"), e.getMessage());
        assertEquals(0, Files.size(file), "a command was written into the file");
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    @Test
    void aCharacterDeviceThatIsNotATpmIsAOneLineErrorNamingIt() {
        SealException e = assertThrows(SealException.class,
                () -> SealingTpm.onDevice(Path.of("/dev/null"), AUTH, 0).seal(freshKey()));
        assertTrue(e.getMessage().contains("/dev/null"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    @Test
    void aClosedDeviceRefusesCommands() throws Exception {
        try (SwtpmCharDevice device = SwtpmCharDevice.start(dir.resolve("host-tpm"))) {
            TpmDevice opened = device.open();
            opened.close();
            assertThrows(java.io.IOException.class, () -> opened.execute(io.vmguard.tpm.TpmCodec.startupClear()));
        }
    }
}
