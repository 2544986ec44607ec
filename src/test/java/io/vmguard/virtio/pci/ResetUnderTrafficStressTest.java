package io.vmguard.virtio.pci;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.InterruptLine;
import io.vmguard.net.MacAddress;
import io.vmguard.net.UnixDatagramBackend;
import io.vmguard.pci.PciRoot;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.HangWatch;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.VirtioFeatures;
import io.vmguard.virtio.console.VirtioConsole;
import io.vmguard.virtio.mmio.VirtioMmioTransport;
import io.vmguard.virtio.net.VirtioNet;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lock rule of {@link VirtioDevice} under load: one thread drives a device through its registers as a
 * vCPU would (reset, feature negotiation, queue set-up, DRIVER_OK, buffers, kicks, interrupt handling, a
 * bad buffer now and then, reset again at a random moment) while the device's own threads deliver
 * traffic from a real backend: frames arriving on a socket for virtio-net, input from a host stream for
 * virtio-console. Over virtio-pci with MSI-X, virtio-pci with INTx and virtio-mmio.
 *
 * <p>Each seed fixes the driver's choices; the backend threads' timing is the host's, so a failing seed
 * makes the failure likely again, not certain. A run that does not end in time fails with the thread dump.
 * Replay one seed with {@code -Dvmguard.stress.seed=N}.
 */
class ResetUnderTrafficStressTest {
    private static final int SEEDS = 200;
    private static final int CYCLES = 20;
    private static final Duration LIMIT = Duration.ofSeconds(10);
    private static final int RING = 8;
    private static final MacAddress MAC = MacAddress.parse("52:54:00:00:00:01");
    private static final long NET_FEATURES = 1L << 5 | 1L << 16; // MAC, STATUS
    private static final int NET_BUFFER = 12 + 1514;
    private static final int CONSOLE_BUFFER = 64;

    @TempDir
    Path dir;

    @Test
    void aDriverResettingWhileTheBackendDeliversNeverDeadlocksTheDevice() throws Exception {
        String one = System.getProperty("vmguard.stress.seed");
        long first = one == null ? 0 : Long.parseLong(one);
        long last = one == null ? SEEDS - 1 : first;
        for (long seed = first; seed <= last; seed++) {
            long s = seed;
            HangWatch.runWithin(LIMIT, "seed " + seed + " (replay: -Dvmguard.stress.seed=" + seed + ")", () -> {
                try {
                    run(s);
                } catch (Throwable t) {
                    throw new AssertionError("seed " + s + ": " + t, t);
                }
            });
        }
    }

    private void run(long seed) throws Exception {
        Random random = new Random(seed);
        netScenario(seed, random);
        consoleScenario(random);
    }

    private void netScenario(long seed, Random random) throws Exception {
        Path vm = dir.resolve("vm" + seed + ".sock");
        Path peer = dir.resolve("peer" + seed + ".sock");
        try (UnixDatagramBackend wire = UnixDatagramBackend.open(peer, vm)) {
            VirtioNet net = new VirtioNet(UnixDatagramBackend.open(vm, peer), MAC, "stress-net");
            Thread sender = Thread.ofPlatform().name("stress-wire").daemon().start(() -> sendFrames(wire));
            try {
                drive(net, NET_FEATURES, NET_BUFFER, 12 + 60, random);
            } finally {
                sender.interrupt();
                sender.join(LIMIT);
                net.close();
            }
            assertTrue(!sender.isAlive(), "the wire thread stopped");
        }
    }

    /**
     * Frames as fast as the socket takes them, a short pause when its queue is full; and the guest's
     * frames taken off the wire, so that its transmits do not wait for room.
     */
    private static void sendFrames(UnixDatagramBackend wire) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment frame = arena.allocate(60);
            MemorySegment sink = arena.allocate(2048);
            frame.fill((byte) 0xff); // broadcast, whatever the rest says
            while (!Thread.currentThread().isInterrupted()) {
                if (!wire.send(frame)) {
                    LockSupport.parkNanos(50_000);
                }
                while (wire.receive(sink, Duration.ZERO) > 0) {
                    // the guest's frame, dropped
                }
            }
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private void consoleScenario(Random random) throws Exception {
        VirtioConsole console = VirtioConsole.start(new Keyboard(), OutputStream.nullOutputStream());
        try {
            drive(console, 0, CONSOLE_BUFFER, 16, random); // no MULTIPORT: input flows once there are buffers
        } finally {
            console.close();
        }
        assertTrue(console.awaitInputEnd(LIMIT), "the console's input thread stopped");
    }

    /** Typing that never ends: a few bytes at a time, a short pause between; interruptible. */
    private static final class Keyboard extends InputStream {
        @Override
        public int read() throws InterruptedIOException {
            byte[] one = new byte[1];
            read(one, 0, 1);
            return one[0] & 0xff;
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws InterruptedIOException {
            LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(10_000, 100_000));
            if (Thread.interrupted()) {
                throw new InterruptedIOException();
            }
            int count = Math.min(length, 1 + ThreadLocalRandom.current().nextInt(32));
            java.util.Arrays.fill(bytes, offset, offset + count, (byte) 'k');
            return count;
        }
    }

    /** The device on a transport the seed picks, driven through {@link #CYCLES} lives. */
    private static void drive(VirtioDevice device, long deviceFeatures, int receiveBuffer, int transmitBytes, Random random)
            throws Exception {
        GuestRam ram = new GuestRam(1 << 20);
        AtomicLong interrupts = new AtomicLong();
        RegisterDriver driver = switch (random.nextInt(3)) {
            case 0 -> new RegisterDriver.Pci(pci(device, ram, interrupts), true, device.queueCount());
            case 1 -> new RegisterDriver.Pci(pci(device, ram, interrupts), false, device.queueCount());
            default -> new RegisterDriver.Mmio(new VirtioMmioTransport(device, "stress", ram.dma(), line(interrupts)));
        };
        long[] buffers = new long[RING];
        for (int i = 0; i < RING; i++) {
            buffers[i] = ram.alloc(receiveBuffer);
        }
        long payload = ram.alloc(transmitBytes);
        for (int cycle = 0; cycle < CYCLES; cycle++) {
            long features = VirtioFeatures.VERSION_1 | deviceFeatures | (random.nextBoolean() ? VirtioFeatures.RING_EVENT_IDX : 0);
            assertTrue(driver.negotiate(features), "features accepted");
            if (random.nextInt(8) == 0) {
                continue; // reset again before DRIVER_OK
            }
            new Life(driver, ram, buffers, receiveBuffer, payload, transmitBytes, random).run();
        }
        driver.status(0);
    }

    private static VirtioPciTransport pci(VirtioDevice device, GuestRam ram, AtomicLong interrupts) {
        VirtioPciTransport transport = new VirtioPciTransport(device, "stress", ram.dma(), (address, data) -> interrupts.incrementAndGet());
        new PciRoot(gsi -> line(interrupts), (address, data) -> { }).add(transport); // INTx reaches a line
        return transport;
    }

    private static InterruptLine line(AtomicLong interrupts) {
        return asserted -> {
            if (asserted) {
                interrupts.incrementAndGet();
            }
        };
    }

    /** One life of the device, from queue set-up to the reset that ends it, at a moment the seed picks. */
    private static final class Life {
        private final RegisterDriver driver;
        private final GuestRam ram;
        private final long[] buffers;
        private final int receiveBuffer;
        private final long payload;
        private final int transmitBytes;
        private final Random random;
        private final DriverRings receive;
        private final DriverRings transmit;
        private int receiving;
        private int transmitting;
        private int next;

        Life(RegisterDriver driver, GuestRam ram, long[] buffers, int receiveBuffer, long payload, int transmitBytes, Random random) {
            this.driver = driver;
            this.ram = ram;
            this.buffers = buffers;
            this.receiveBuffer = receiveBuffer;
            this.payload = payload;
            this.transmitBytes = transmitBytes;
            this.random = random;
            this.receive = new DriverRings(ram, RING);
            this.transmit = new DriverRings(ram, RING);
        }

        void run() {
            driver.enableQueue(0, receive.layout());
            driver.enableQueue(1, transmit.layout());
            boolean buffersFirst = random.nextBoolean(); // Linux fills the receive queue before DRIVER_OK
            if (buffersFirst) {
                offerReceive(1 + random.nextInt(RING));
            }
            driver.status(driver.status() | DeviceStatus.DRIVER_OK);
            if (!buffersFirst) {
                offerReceive(1 + random.nextInt(RING));
            }
            driver.kick(0);
            for (int steps = random.nextInt(40); steps > 0; steps--) {
                switch (random.nextInt(6)) {
                    case 0 -> spin(random.nextInt(300));
                    case 1 -> {
                        receiving -= receive.takeUsed().size();
                        offerReceive(RING - receiving);
                        driver.kick(0);
                    }
                    case 2 -> driver.acknowledgeInterrupt();
                    case 3 -> {
                        transmitting -= transmit.takeUsed().size();
                        if (transmitting < RING) {
                            transmit.offer(DriverRings.Buffer.readable(payload, transmitBytes));
                            transmitting++;
                            driver.kick(1);
                        }
                    }
                    case 4 -> {
                        // Rarely, a buffer outside memory: the device thread fails the device (DEVICE_NEEDS_RESET).
                        if (random.nextInt(8) == 0 && receiving < RING) {
                            receive.offer(DriverRings.Buffer.writable(ram.outside(), receiveBuffer));
                            receiving++;
                            driver.kick(0);
                        }
                    }
                    default -> driver.status();
                }
            }
            driver.status(0);
        }

        private void offerReceive(int count) {
            for (int i = 0; i < count && receiving < RING; i++) {
                receive.offer(DriverRings.Buffer.writable(buffers[next++ % RING], receiveBuffer));
                receiving++;
            }
        }

        private static void spin(long micros) {
            long end = System.nanoTime() + micros * 1000;
            while (System.nanoTime() < end) {
                Thread.onSpinWait();
            }
        }
    }
}
