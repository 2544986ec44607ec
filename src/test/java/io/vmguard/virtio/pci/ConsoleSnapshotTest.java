package io.vmguard.virtio.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.VirtioFeatures;
import io.vmguard.virtio.console.VirtioConsole;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** virtio-console's MULTIPORT handshake goes on across a snapshot: an answer waiting for the driver's buffer is not lost. */
class ConsoleSnapshotTest {
    private static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioConsole.F_MULTIPORT;
    private static final int CONTROL_RECEIVE = 2;
    private static final int CONTROL_TRANSMIT = 3;
    private static final int DEVICE_READY = 0;
    private static final int DEVICE_ADD = 1;

    private final GuestRam ram = new GuestRam(1 << 20);
    private final DriverRings[] rings = {new DriverRings(ram, 8), new DriverRings(ram, 8), new DriverRings(ram, 8), new DriverRings(ram, 8)};
    private VirtioConsole device;

    @AfterEach
    void close() {
        device.close();
    }

    private static VirtioConsole console() {
        return VirtioConsole.start(InputStream.nullInputStream(), OutputStream.nullOutputStream());
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aControlAnswerWaitingForTheDriverIsDeliveredAfterRestore(TransportRig.Kind kind) throws Exception {
        device = console();
        TransportRig rig = kind.build(device, ram, true);
        assertTrue(rig.driver().negotiate(FEATURES));
        for (int queue = 0; queue < rings.length; queue++) {
            rig.driver().enableQueue(queue, rings[queue].layout());
        }
        rig.driver().status(rig.driver().status() | DeviceStatus.DRIVER_OK);
        byte[] ready = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putShort((short) DEVICE_READY).putShort((short) 1).array();
        rings[CONTROL_TRANSMIT].offer(Buffer.readable(ram.put(ready), 8));
        rig.driver().kick(CONTROL_TRANSMIT); // DEVICE_ADD now waits: no control receive buffer yet

        rig.control().pause();
        StateWriter out = StateWriter.root();
        rig.save(out);
        device.close();
        device = console();
        TransportRig restored = kind.build(device, ram, false);
        restored.restore(TransportRig.throughJson(out));
        restored.control().resume();

        long answer = ram.alloc(8);
        rings[CONTROL_RECEIVE].offer(Buffer.writable(answer, 8));
        restored.driver().kick(CONTROL_RECEIVE);
        List<DriverRings.Used> used = rings[CONTROL_RECEIVE].takeUsed();
        assertEquals(1, used.size());
        ByteBuffer message = ByteBuffer.wrap(ram.read(answer, 8)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0, message.getInt(), "port 0");
        assertEquals(DEVICE_ADD, message.getShort());
    }
}
