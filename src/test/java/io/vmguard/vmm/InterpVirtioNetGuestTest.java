package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.net.NetSpec;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.virtio.DeviceCounters;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Linux's virtio_net driver on vmguard's virtio-net, under the interpreter: two VMs joined by the socket
 * backend move 1 MiB over TCP intact, once with the card's offloads (checksum completion, TCP segmentation
 * and verified receive checksums, done by the device) and once without. The sender shows what it
 * negotiated (ethtool -k's view), and the receiver's TCP counted no checksum error: a frame the device
 * segmented or checksummed wrongly would be dropped there, one it marked valid wrongly would corrupt the file.
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpVirtioNetGuestTest {
    @TempDir
    Path dir;

    private record Run(RunOutcome outcome, String console, DeviceCounters card) {}

    private static VmConfig guest(String script, Path console, String extra) {
        return new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + script + " " + extra, 256L << 20, "interp",
                new SerialTarget.File(console)).withIommu(false);
    }

    private static Run boot(VmConfig config, Path console) throws Exception {
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            RunOutcome outcome = vm.run();
            return new Run(outcome, Files.readString(console), vm.deviceCounters().get("net0"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"on", "off"})
    void twoVmsOnVirtioNetMoveAFileIntactWithAndWithoutOffloads(String offloads) throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        Path serverLog = dir.resolve("server.log");
        Path clientLog = dir.resolve("client.log");
        VmConfig server = guest("virtio-net-serve", serverLog, "vmguard.ip=10.0.2.1")
                .withNets(List.of(NetSpec.parse("socket:" + a + "," + b)));
        VmConfig client = guest("virtio-net-send", clientLog, "vmguard.ip=10.0.2.2 vmguard.peer=10.0.2.1")
                .withNets(List.of(NetSpec.parse("socket:" + b + "," + a)));
        Run sent;
        Run served;
        System.setProperty("vmguard.netOffload", offloads); // read as each VM builds its cards
        try {
            CompletableFuture<Run> serving = CompletableFuture.supplyAsync(() -> {
                try {
                    return boot(server, serverLog);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            sent = boot(client, clientLog);
            served = serving.get(15, TimeUnit.MINUTES);
        } finally {
            System.clearProperty("vmguard.netOffload");
        }
        assertEquals(new RunOutcome.PoweredOff(0), sent.outcome(), sent.console());
        assertEquals(new RunOutcome.PoweredOff(0), served.outcome(), served.console());

        String state = offloads.equals("on") ? "on" : "off";
        for (String feature : List.of("tx-checksumming: ", "scatter-gather: ", "tcp-segmentation-offload: ")) {
            assertTrue(sent.console().contains("virtio-net-send: " + feature + state), feature + state + "\n" + sent.console());
        }
        // Linux 6.12's virtio_net reports rx-checksumming on whatever was negotiated (it takes DATA_VALID from any
        // device); what GUEST_CSUM changes is whether vmguard's card verifies and marks frames.
        assertTrue(served.console().contains("virtio-net-serve: rx-checksumming: on"), served.console());
        FileTransferBetweenVms.assertArrivedIntact(sent.console(), served.console());
        assertTrue(served.console().contains("virtio-net-serve: 0 TCP checksum errors"), served.console());
        for (Run vm : List.of(sent, served)) {
            assertEquals(0, vm.card().errors(), "no frame dropped by either device: " + vm.card());
        }
        assertTrue(sent.card().bytes() > 1 << 20 && served.card().bytes() > 1 << 20, sent.card() + " / " + served.card());
    }
}
