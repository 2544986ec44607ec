package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import io.vmguard.engine.EngineException;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The state a KVM VM keeps outside its vCPUs: the two i8259 PICs and the I/O APIC (KVM_GET_IRQCHIP,
 * 512 raw bytes each), the i8254 (KVM_GET_PIT2, raw) and kvmclock (KVM_GET_CLOCK, its nanoseconds).
 *
 * <p>kvmclock is restored to the saved value with no flags: guest time continues from where it was
 * paused rather than jumping by the time the snapshot spent on disk (QEMU's default too). The guest's
 * wall clock is the guest's business (NTP, or the RTC that follows host time).
 */
final class KvmPlatformSnapshot {
    private static final int PIT_BYTES = (int) KvmPitState2Layout.LAYOUT.byteSize();
    private static final String[] CHIPS = {"picMaster", "picSlave", "ioapic"};
    private static final int[] CHIP_IDS = {KvmIrqchipLayout.PIC_MASTER, KvmIrqchipLayout.PIC_SLAVE, KvmIrqchipLayout.IOAPIC};

    private KvmPlatformSnapshot() {}

    static void save(int vmFd, StateWriter out) throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            out.putString("engine", KvmVcpuSnapshot.ENGINE);
            out.putInt("format", KvmVcpuSnapshot.FORMAT);
            MemorySegment irqchip = arena.allocate(KvmIrqchipLayout.LAYOUT);
            for (int i = 0; i < CHIPS.length; i++) {
                KvmIrqchipLayout.select(irqchip, CHIP_IDS[i]);
                ioctl(vmFd, KvmIoctls.KVM_GET_IRQCHIP, irqchip, "KVM_GET_IRQCHIP " + CHIPS[i]);
                out.putBytes(CHIPS[i], KvmIrqchipLayout.state(irqchip).toArray(JAVA_BYTE));
            }
            MemorySegment pit = arena.allocate(KvmPitState2Layout.LAYOUT);
            ioctl(vmFd, KvmIoctls.KVM_GET_PIT2, pit, "KVM_GET_PIT2");
            out.putBytes("pit", pit.toArray(JAVA_BYTE));
            MemorySegment clock = arena.allocate(KvmClockDataLayout.LAYOUT);
            ioctl(vmFd, KvmIoctls.KVM_GET_CLOCK, clock, "KVM_GET_CLOCK");
            out.putLong("clockNanos", KvmClockDataLayout.clock(clock));
        }
    }

    /** Reads and checks every field, then sets the interrupt controllers, the PIT and the clock. */
    static void restore(int vmFd, StateReader in) throws SnapshotException {
        String engine = in.getString("engine");
        if (!KvmVcpuSnapshot.ENGINE.equals(engine)) {
            throw new SnapshotException("snapshot field " + name(in, "engine") + " says the platform was saved by the "
                    + engine + " engine; a KVM VM restores only state the KVM engine saved");
        }
        in.getInt("format", KvmVcpuSnapshot.FORMAT, KvmVcpuSnapshot.FORMAT);
        byte[][] chips = new byte[CHIPS.length][];
        for (int i = 0; i < CHIPS.length; i++) {
            chips[i] = in.getBytes(CHIPS[i], KvmIrqchipLayout.STATE_BYTES);
        }
        byte[] pitState = in.getBytes("pit", PIT_BYTES);
        // kvmclock is unsigned nanoseconds since the guest booted; a negative value is a corrupt file.
        long clockNanos = in.getLong("clockNanos", 0, Long.MAX_VALUE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment irqchip = arena.allocate(KvmIrqchipLayout.LAYOUT);
            for (int i = 0; i < CHIPS.length; i++) {
                KvmIrqchipLayout.select(irqchip, CHIP_IDS[i]);
                MemorySegment.copy(chips[i], 0, KvmIrqchipLayout.state(irqchip), JAVA_BYTE, 0, chips[i].length);
                set(vmFd, in, CHIPS[i], irqchip, KvmIoctls.KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP");
            }
            MemorySegment pit = arena.allocate(KvmPitState2Layout.LAYOUT);
            MemorySegment.copy(pitState, 0, pit, JAVA_BYTE, 0, pitState.length);
            set(vmFd, in, "pit", pit, KvmIoctls.KVM_SET_PIT2, "KVM_SET_PIT2");
            MemorySegment clock = arena.allocate(KvmClockDataLayout.LAYOUT);
            KvmClockDataLayout.write(clock, clockNanos);
            set(vmFd, in, "clockNanos", clock, KvmIoctls.KVM_SET_CLOCK, "KVM_SET_CLOCK");
        }
    }

    private static void set(int vmFd, StateReader in, String field, MemorySegment argument, long request, String name)
            throws SnapshotException {
        try {
            ioctl(vmFd, request, argument, name);
        } catch (EngineException e) {
            throw new SnapshotException("snapshot field " + name(in, field) + " was refused: " + e.getMessage(), e);
        }
    }

    private static void ioctl(int vmFd, long request, MemorySegment argument, String name) throws EngineException {
        try {
            Libc.ioctl(vmFd, request, argument);
        } catch (NativeException e) {
            throw new EngineException(name + ": " + Libc.strerror(e.errno()), e);
        }
    }

    private static String name(StateReader in, String key) {
        return in.path().isEmpty() ? key : in.path() + "." + key;
    }
}
