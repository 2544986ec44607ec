package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.devices.e1000.E1000Counters;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.net.NetSpec;
import io.vmguard.testing.BuiltGuest;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Linux's own e1000 driver on vmguard's 82540EM, under the interpreter: two VMs joined by the socket
 * backend ping each other and move 1 MiB over TCP with equal checksums, with the IOMMU off, strict and
 * lazy. The client shows the offloads the card offers (ethtool -k's view), and the card's counters show
 * they were used: TSO segments and inserted checksums, no DMA fault, nothing malformed.
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpE1000GuestTest {
    @TempDir
    Path dir;

    /** What one VM printed and what its card counted. */
    private record Run(RunOutcome outcome, String console, E1000Counters card) {}

    private static VmConfig guest(String script, Path console, String iommu, String extra) {
        String mode = switch (iommu) {
            case "strict" -> " iommu.strict=1";
            case "lazy" -> " iommu.strict=0";
            default -> "";
        };
        return new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + mode + " vmguard.run=" + script + " " + extra, 256L << 20, "interp",
                new SerialTarget.File(console)).withIommu(!iommu.equals("off"));
    }

    private static Run boot(VmConfig config, Path console) throws Exception {
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            RunOutcome outcome = vm.run();
            return new Run(outcome, Files.readString(console), vm.nicCounters().get("e1000-0"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"off", "strict", "lazy"})
    void twoVmsOnE1000CardsPingEachOtherAndMoveAFileIntact(String iommu) throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        Path serverLog = dir.resolve("server.log");
        Path clientLog = dir.resolve("client.log");
        VmConfig server = guest("e1000-serve", serverLog, iommu, "vmguard.ip=10.0.2.1")
                .withNets(List.of(NetSpec.parse("socket:" + a + "," + b + ",model=e1000")));
        VmConfig client = guest("e1000-send", clientLog, iommu, "vmguard.ip=10.0.2.2 vmguard.peer=10.0.2.1")
                .withNets(List.of(NetSpec.parse("socket:" + b + "," + a + ",model=e1000")));
        CompletableFuture<Run> serving = CompletableFuture.supplyAsync(() -> {
            try {
                return boot(server, serverLog);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Run sent = boot(client, clientLog);
        Run served = serving.get(15, TimeUnit.MINUTES);
        assertEquals(new RunOutcome.PoweredOff(0), sent.outcome(), sent.console());
        assertEquals(new RunOutcome.PoweredOff(0), served.outcome(), served.console());

        for (Run vm : List.of(sent, served)) {
            assertTrue(vm.console().contains("eth0 driver e1000 id 0x8086:0x100e"), "Linux's e1000 drives the card\n" + vm.console());
            assertTrue(vm.console().contains("e1000 0000:00:") && vm.console().contains("Intel(R) PRO/1000 Network Connection"),
                    vm.console());
            assertEquals(0, vm.card().dmaFaults(), "no DMA fault: " + vm.card());
            assertEquals(0, vm.card().malformed(), "nothing malformed: " + vm.card());
            assertEquals(0, vm.card().ringErrors(), "no ring error: " + vm.card());
            if (!iommu.equals("off")) {
                assertTrue(vm.console().contains("e1000 0000:00:") && vm.console().lines()
                        .anyMatch(line -> line.contains("Adding to iommu group") && line.contains("e1000")), vm.console());
                assertTrue(vm.console().lines().noneMatch(line -> line.contains("fault from EP")), vm.console());
            }
        }
        assertTrue(sent.console().contains("3 packets transmitted, 3 packets received"), sent.console());
        for (String feature : List.of("tx-checksumming: on", "scatter-gather: on", "tcp-segmentation-offload: on")) {
            assertTrue(sent.console().contains("e1000-send: " + feature), "the card offers " + feature + "\n" + sent.console());
        }
        Matcher sentSum = Pattern.compile("net-send: sending (\\d+) bytes sha256=(\\w+)").matcher(sent.console());
        Matcher receivedSum = Pattern.compile("net-serve: received (\\d+) bytes sha256=(\\w+)").matcher(served.console());
        assertTrue(sentSum.find(), sent.console());
        assertTrue(receivedSum.find(), served.console());
        assertEquals("1048576", receivedSum.group(1), served.console());
        assertEquals(sentSum.group(2), receivedSum.group(2), "the bytes arrived intact");

        E1000Counters card = sent.card();
        assertTrue(card.tsoPackets() > 0 && card.tsoSegments() > card.tsoPackets(),
                "the sender's TCP went out through TSO, each packet in several segments: " + card);
        assertTrue(card.checksumOffloads() > 0, "the card inserted checksums outside TSO too: " + card);
        assertTrue(card.txBytes() > 1 << 20 && served.card().rxBytes() > 1 << 20, "1 MiB crossed both cards: " + card
                + " / " + served.card());
    }
}
