package io.vmguard.virtio.net;

import io.vmguard.net.MacAddress;
import io.vmguard.net.UnixDatagramBackend;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.RecordingInterrupt;
import io.vmguard.virtio.VirtioFeatures;
import java.lang.foreign.Arena;
import java.nio.file.Path;

/**
 * A virtio-net card, activated, between a driver's rings in test RAM and a real socket backend whose other
 * end ({@link #wire}) the test holds.
 */
final class VirtioNetRig implements AutoCloseable {
    static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_EVENT_IDX;
    static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");

    final GuestRam ram;
    final DriverRings receive;
    final DriverRings transmit;
    final RecordingInterrupt interrupts = new RecordingInterrupt();
    final Arena arena = Arena.ofShared();
    final UnixDatagramBackend wire;
    final VirtioNet device;

    /**
     * @param transmitThread the name of the card's transmit thread, or null to transmit on the kicking
     *                       thread (as without I/O threads)
     */
    VirtioNetRig(Path dir, int ramBytes, int ringSize, String receiveThread, String transmitThread) throws Exception {
        this(dir, ramBytes, ringSize, receiveThread, transmitThread, false, FEATURES);
    }

    /** As above, a card offering the offloads when {@code offloads}, activated with {@code features} negotiated. */
    VirtioNetRig(Path dir, int ramBytes, int ringSize, String receiveThread, String transmitThread, boolean offloads,
                 long features) throws Exception {
        ram = new GuestRam(ramBytes);
        receive = new DriverRings(ram, ringSize);
        transmit = new DriverRings(ram, ringSize);
        Path vm = dir.resolve("vm.sock");
        Path peer = dir.resolve("peer.sock");
        wire = UnixDatagramBackend.open(peer, vm);
        device = new VirtioNet(UnixDatagramBackend.open(vm, peer), MAC, receiveThread, transmitThread, offloads);
        device.activate(interrupts.context(features, ram.dma(), receive.deviceQueue(ram.dma(), features),
                transmit.deviceQueue(ram.dma(), features)));
    }

    /** A frame of {@code length} bytes whose contents depend on {@code seed}. */
    static byte[] frame(int length, int seed) {
        byte[] frame = new byte[length];
        for (int i = 0; i < length; i++) {
            frame[i] = (byte) (seed * 31 + i);
        }
        return frame;
    }

    @Override
    public void close() {
        device.close();
        wire.close();
        arena.close();
    }
}
