package io.vmguard.testing;

import io.vmguard.bus.Bus;
import io.vmguard.bus.BusRange;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A minimal run loop for test payloads: port I/O and MMIO exits go to the two buses, and the loop stops
 * when the payload writes one of the ports it was told to stop at (see src/test/payloads/ports.inc).
 * Any other stop fails the test with the vCPU's RIP. A watchdog kicks the vCPU when a run takes too
 * long, so a runaway payload fails instead of hanging.
 */
public final class PayloadHarness {
    public static final int UART_PORT = 0x3f8;
    // Four ports apart, so a 32-bit access to one stays inside its device's range.
    public static final int RESULT_PORT = 0x500;
    public static final int EXIT_PORT = 0x504;
    public static final int ANSWER_PORT = 0x508;
    public static final int ECHO_PORT = 0x50c;
    public static final int STREAM_PORT = 0x510;
    public static final int NOTE_PORT = 0x514;
    public static final int IRQ_PORT = 0x518;
    public static final int PORT_WIDTH = 4;
    public static final long MMIO_BASE = 0x10000000L;

    public final Bus pio = new Bus("pio");
    public final Bus mmio = new Bus("mmio");
    public final RecordingDevice uart = new RecordingDevice();
    public final RecordingDevice results = new RecordingDevice();
    public final RecordingDevice echo = new RecordingDevice();
    public final RecordingDevice irq = new RecordingDevice();
    private final AtomicInteger stream = new AtomicInteger();

    public PayloadHarness() {
        pio.register(new BusRange(UART_PORT, 1), uart);
        pio.register(new BusRange(RESULT_PORT, PORT_WIDTH), results);
        pio.register(new BusRange(ECHO_PORT, PORT_WIDTH), echo);
        pio.register(new BusRange(IRQ_PORT, PORT_WIDTH), irq);
        // Consecutive bytes, little-endian within a wider access: 0, 1, 2, ...
        pio.register(new BusRange(STREAM_PORT, PORT_WIDTH), new RecordingDevice((offset, width) -> {
            long value = 0;
            for (int i = 0; i < width; i++) {
                value |= (long) (stream.getAndIncrement() & 0xff) << (8 * i);
            }
            return value;
        }));
    }

    public String uartText() {
        StringBuilder text = new StringBuilder();
        uart.writtenValues().forEach(value -> text.append((char) value.longValue()));
        return text.toString();
    }

    /** Runs until the payload writes EXIT_PORT; returns its status byte. */
    public int runToExit(Vcpu vcpu, Duration timeout) throws EngineException {
        VcpuExit.IoOut exit = runUntilPort(vcpu, EXIT_PORT, timeout);
        return (int) RecordingDevice.load(exit.data());
    }

    /** Runs, dispatching I/O, until the payload writes {@code port}; returns that exit. */
    public VcpuExit.IoOut runUntilPort(Vcpu vcpu, int port, Duration timeout) throws EngineException {
        Thread watchdog = Thread.ofPlatform().daemon().name("payload-watchdog").start(() -> {
            try {
                Thread.sleep(timeout);
                vcpu.requestExit();
            } catch (InterruptedException e) {
                // cancelled: the payload finished in time
            }
        });
        try {
            while (true) {
                VcpuExit exit = vcpu.run();
                switch (exit) {
                    case VcpuExit.IoOut out when out.port() == port -> {
                        return out;
                    }
                    case VcpuExit.IoOut out -> pio.write(out.port(), out.data());
                    case VcpuExit.IoIn in -> pio.read(in.port(), in.data());
                    case VcpuExit.MmioWrite write -> mmio.write(write.address(), write.data());
                    case VcpuExit.MmioRead read -> mmio.read(read.address(), read.data());
                    case VcpuExit.Interrupted interrupted -> throw new AssertionError(
                            "payload did not reach port 0x" + Integer.toHexString(port) + " within " + timeout + where(vcpu));
                    default -> throw new AssertionError("unexpected exit " + exit + where(vcpu));
                }
            }
        } finally {
            watchdog.interrupt();
        }
    }

    private static String where(Vcpu vcpu) {
        try {
            return String.format(" (rip 0x%x)", vcpu.registers().rip());
        } catch (EngineException e) {
            return "";
        }
    }
}
