package io.vmguard.devices.e1000;

import io.vmguard.net.InternetChecksum;
import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.events.GuestLog;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetBackend;
import io.vmguard.net.NetException;
import io.vmguard.pci.InterruptPin;
import io.vmguard.pci.PciBar;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciDevice;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32;

/**
 * An Intel 82540EM gigabit Ethernet controller ("e1000", PCI 8086:100E), the NIC QEMU emulates by default
 * and every x86 OS can drive, moving frames between the guest and a {@link NetBackend}. Linux's
 * {@code e1000} driver runs it unchanged: EEPROM ({@link Eeprom}), PHY ({@link Phy}), legacy INTx,
 * transmit with checksum offload and TSO ({@link Transmitter}, {@link Offload}), receive with address
 * filters ({@link Receiver}, {@link ReceiveFilter}).
 *
 * <p><b>BARs.</b> BAR 0: the 128 KiB register file, 32-bit accesses (8-byte ones split in two; other
 * widths read 0 and are dropped). BAR 1: the 8-byte I/O window Linux uses to reset an 82540 (IOADDR at 0
 * selects a register, IODATA at 4 reads or writes it). Unknown registers read 0 and ignore writes.
 *
 * <p><b>DMA.</b> Every descriptor and buffer goes through the card's {@link DmaSpace}, so behind the
 * IOMMU the card reaches only what the guest mapped for it. Nothing moves while bus mastering is off. A
 * refused access drops the frame and is counted ({@link E1000Counters#dmaFaults}), never thrown.
 *
 * <p><b>Interrupts.</b> ICR collects causes, cleared when read (or by writing ones); IMS/IMC mask them;
 * ICS sets them. The INTx line is asserted while ICR & IMS is not 0, but no sooner than ITR x 256 ns after
 * it was last asserted (interrupt throttling; RDTR/RADV/TIDV/TADV are kept, and their delays are left to
 * ITR, which Linux always sets; {@link InterruptThrottle}).
 *
 * <p><b>Threads and locks.</b> Registers live under this object's lock, taken briefly by vCPUs and the
 * receive thread. A TDT write runs the transmit ring on the writing vCPU, outside that lock: under a
 * transmit lock that no vCPU waits for (a vCPU finding it held leaves a request that the running
 * transmitter picks up before it lets go), so sending to a slow backend never stalls another vCPU's
 * register access. Receive runs on a thread of its own that takes a frame from the backend and waits,
 * holding it, until the driver has given buffers (RDT), as virtio-net does. The INTx line is driven only
 * outside the register lock, under a lock of its own.
 *
 * <p><b>Pause and snapshots.</b> Paused, the receive thread delivers nothing (a frame it holds is kept and
 * saved) and no interrupt is raised; transmit runs on vCPUs, which are stopped first. A snapshot holds the
 * register file, ICR/IMS, the EEPROM and MDIO interfaces, the PHY, the transmit contexts and a packet
 * half gathered, and the held frame.
 */
public final class E1000 implements PciDevice, Snapshottable, AutoCloseable {
    public static final int VENDOR_ID = 0x8086;
    public static final int DEVICE_ID = 0x100e;
    public static final int REVISION = 3;
    public static final int REGISTER_BAR = 0;
    public static final int IO_BAR = 1;
    public static final long REGISTER_BAR_SIZE = 128 * 1024;
    public static final long IO_BAR_SIZE = 64;
    static final int IOADDR = 0, IODATA = 4;

    /** The register file kept as plain dwords: everything up to the wake-up and management registers. */
    private static final int FILE_BYTES = Reg.MANC + 4;
    /** A frame from the wire, longest: 16 KiB with RCTL.LPE (the 8254x maximum), 1522 without. */
    static final int MAX_RX_FRAME = 16384;
    private static final int MAX_STANDARD_FRAME = 1522;
    private static final int MIN_FRAME = 60;
    private static final int FCS = 4;
    private static final int VLAN_TAG = 4;
    /** How long a frame waits for receive buffers before it is dropped as an overrun (RXO). */
    private static final long OVERRUN_NANOS = 2_000_000_000L;
    private static final Duration RECEIVE_POLL = Duration.ofMillis(100);
    private static final long ITR_UNIT_NANOS = 256;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final PciConfigSpace config = PciConfigSpace.builder(VENDOR_ID, DEVICE_ID)
            .revision(REVISION)
            .subsystem(VENDOR_ID, DEVICE_ID)
            .classCode(0x02, 0x00, 0x00)
            .bar(REGISTER_BAR, PciBar.memory32(REGISTER_BAR_SIZE))
            .bar(IO_BAR, PciBar.io(IO_BAR_SIZE))
            .interruptPin(InterruptPin.INTA)
            .build();
    private final DmaSpace dma;
    private final NetBackend backend;
    private MacAddress mac;
    private Eeprom eeprom;
    /** The MAC a restore keeps instead of the snapshot's; null to take the snapshot's. */
    private MacAddress restoreMac;
    private final Phy phy = new Phy();
    private final Stats stats = new Stats();
    private final Transmitter transmitter = new Transmitter(stats);
    private final Receiver receiver = new Receiver();
    private final Arena buffers = Arena.ofShared();
    /** Where the receive thread lands frames from the backend; only it touches this, outside the lock. */
    private final MemorySegment incoming = buffers.allocate(MAX_RX_FRAME + FCS);
    /** The frame taken from the backend and not yet in guest memory (under the lock), with room for padding and FCS. */
    private final MemorySegment held = buffers.allocate(MAX_RX_FRAME + FCS);
    private final Thread receiveThread;
    private final InterruptThrottle throttle;
    private final ReentrantLock transmitLock = new ReentrantLock();
    private final AtomicBoolean transmitRequested = new AtomicBoolean();
    private final AtomicBoolean backendFailed = new AtomicBoolean();

    // ---- under this object's lock ----
    private final int[] registers = new int[FILE_BYTES / 4];
    private int icr;
    private int ims;
    private int eerd;
    private int mdic;
    private int ioAddress;
    /** Bumped by a device reset, so a transmit run that began before it does not write TDH afterwards. */
    private long generation;
    /** A reset or restore came while the transmitter may be running: it forgets its packet before its next run. */
    private boolean transmitterStale;
    private int heldLength;
    private long heldSince;
    private boolean paused;
    private volatile boolean closed;


    /**
     * @param dma  the card's door to memory (its IOMMU endpoint's, or guest-physical)
     * @param name for thread names, e.g. {@code e1000-0}
     */
    public E1000(DmaSpace dma, NetBackend backend, MacAddress mac, String name) {
        this.dma = dma;
        this.backend = backend;
        this.mac = mac;
        this.eeprom = new Eeprom(mac);
        resetRegisters();
        this.throttle = new InterruptThrottle(this::wantedInterrupt, config::setInterrupt, name + "-itr");
        this.receiveThread = Thread.ofPlatform().name(name + "-rx").daemon().start(this::receiveLoop);
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    public synchronized MacAddress mac() {
        return mac;
    }

    /** For a clone: a restore keeps {@code mac} (in the EEPROM) instead of taking the snapshot's. */
    public synchronized void useMacOnRestore(MacAddress newMac) {
        restoreMac = newMac;
    }

    public E1000Counters counters() {
        return stats.snapshot();
    }

    public String description() {
        return backend.description();
    }

    // ---- BAR accesses ----

    @Override
    public void readBar(int bar, long offset, MemorySegment data) {
        int size = (int) data.byteSize();
        if (bar == IO_BAR) {
            data.fill((byte) 0);
            if (size == 4 && offset == IOADDR) {
                data.set(INT, 0, ioAddressNow());
            } else if (size == 4 && offset == IODATA) {
                data.set(INT, 0, readRegister(ioAddressNow()));
            }
            return;
        }
        if (bar != REGISTER_BAR || (offset & 3) != 0 || (size != 4 && size != 8)) {
            data.fill((byte) 0);
            return;
        }
        data.set(INT, 0, readRegister((int) offset));
        if (size == 8) {
            data.set(INT, 4, readRegister((int) offset + 4));
        }
    }

    @Override
    public void writeBar(int bar, long offset, MemorySegment data) {
        int size = (int) data.byteSize();
        if (bar == IO_BAR) {
            if (size == 4 && offset == IOADDR) {
                synchronized (this) {
                    ioAddress = data.get(INT, 0) & (int) (REGISTER_BAR_SIZE - 4);
                }
            } else if (size == 4 && offset == IODATA) {
                writeRegister(ioAddressNow(), data.get(INT, 0));
            }
            return;
        }
        if (bar != REGISTER_BAR || (offset & 3) != 0 || (size != 4 && size != 8)) {
            return;
        }
        writeRegister((int) offset, data.get(INT, 0));
        if (size == 8) {
            writeRegister((int) offset + 4, data.get(INT, 4));
        }
    }

    private synchronized int ioAddressNow() {
        return ioAddress;
    }

    /** A register read by the guest (BAR 0 or IODATA): side effects (ICR, statistics) included. */
    int readRegister(int offset) {
        int value;
        synchronized (this) {
            value = switch (offset) {
                case Reg.STATUS -> Reg.STATUS_FD | Reg.STATUS_LU | Reg.STATUS_SPEED_1000;
                case Reg.EECD -> eeprom.readEecd();
                case Reg.EERD -> eerd;
                case Reg.MDIC -> mdic;
                case Reg.ICR -> {
                    int causes = icr | ((icr & ims) != 0 ? Reg.ICR_INT_ASSERTED : 0);
                    icr = 0;
                    yield causes;
                }
                case Reg.IMS -> ims;
                case Reg.ICS, Reg.IMC -> 0;
                default -> {
                    if (offset >= Reg.STATS && offset < Reg.STATS_END) {
                        yield stats.read(offset);
                    }
                    yield isPlain(offset) ? registers[offset / 4] : 0;
                }
            };
        }
        if (offset == Reg.ICR) {
            updateInterrupt();
        }
        return value;
    }

    /** A register write by the guest. */
    void writeRegister(int offset, int value) {
        boolean transmit = false;
        synchronized (this) {
            switch (offset) {
                case Reg.CTRL -> {
                    if ((value & Reg.CTRL_RST) != 0) {
                        reset();
                        value = registers[Reg.CTRL / 4];
                    } else if ((value & Reg.CTRL_PHY_RST) != 0) {
                        phy.reset();
                    }
                    registers[Reg.CTRL / 4] = value & ~(Reg.CTRL_RST | Reg.CTRL_PHY_RST);
                }
                case Reg.EECD -> eeprom.writeEecd(value);
                case Reg.EERD -> eerd = eeprom.eerd(value);
                case Reg.MDIC -> {
                    mdic = phy.mdic(value);
                    if ((value & Phy.MDIC_INT_EN) != 0) {
                        icr |= Reg.ICR_MDAC;
                    }
                }
                case Reg.ICR -> icr &= ~value;
                case Reg.ICS -> icr |= value & Reg.ICR_CAUSES;
                case Reg.IMS -> ims |= value & Reg.ICR_CAUSES;
                case Reg.IMC -> ims &= ~value;
                case Reg.RDT, Reg.RDH, Reg.RCTL -> {
                    registers[offset / 4] = offset == Reg.RCTL ? value : value & 0xffff;
                    notifyAll(); // the receive thread may wait for buffers or for the receiver to be enabled
                }
                case Reg.TDT, Reg.TCTL -> {
                    registers[offset / 4] = offset == Reg.TCTL ? value : value & 0xffff;
                    transmit = true;
                }
                default -> {
                    if (isPlain(offset)) {
                        registers[offset / 4] = value & mask(offset);
                    }
                }
            }
        }
        if (transmit) {
            transmit();
        }
        updateInterrupt();
    }

    /** Registers that simply hold what the guest writes (within {@link #mask}). */
    private static boolean isPlain(int offset) {
        return switch (offset) {
            case Reg.CTRL, Reg.CTRL_EXT, Reg.FCAL, Reg.FCAH, Reg.FCT, Reg.VET, Reg.ITR, Reg.RCTL, Reg.FCTTV, Reg.TXCW,
                    Reg.RXCW, Reg.TCTL, Reg.TIPG, Reg.LEDCTL, Reg.PBA, Reg.FCRTL, Reg.FCRTH, Reg.RDBAL, Reg.RDBAH,
                    Reg.RDLEN, Reg.RDH, Reg.RDT, Reg.RDTR, Reg.RADV, Reg.RSRPD, Reg.TDBAL, Reg.TDBAH, Reg.TDLEN,
                    Reg.TDH, Reg.TDT, Reg.TIDV, Reg.TXDCTL, Reg.TADV, Reg.RXCSUM, Reg.WUC, Reg.WUFC, Reg.MANC -> true;
            default -> (offset >= Reg.MTA && offset < Reg.MTA + 4 * Reg.MTA_COUNT)
                    || (offset >= Reg.RA && offset < Reg.RA + 8 * Reg.RA_COUNT)
                    || (offset >= Reg.VFTA && offset < Reg.VFTA + 4 * Reg.VFTA_COUNT);
        };
    }

    private static int mask(int offset) {
        return switch (offset) {
            case Reg.RDLEN, Reg.TDLEN -> Reg.RING_LENGTH_MASK;
            case Reg.RDBAL, Reg.TDBAL -> ~0xf;
            case Reg.RDH, Reg.RDT, Reg.TDH, Reg.TDT, Reg.ITR, Reg.RDTR, Reg.RADV, Reg.TIDV, Reg.TADV, Reg.VET -> 0xffff;
            default -> -1;
        };
    }

    /** CTRL.RST: every register to its power-on value; the EEPROM is kept and the MAC reloaded from it. */
    private void reset() {
        generation++;
        resetRegisters();
        transmitterStale = true; // the transmitter is the transmit lock's; it resets itself under it
        heldLength = 0;
        notifyAll();
    }

    private void resetRegisters() {
        java.util.Arrays.fill(registers, 0);
        icr = 0;
        ims = 0;
        eerd = 0;
        mdic = 0;
        registers[Reg.CTRL / 4] = 0x00140240; // SWDPIN0, SWDPIN2, 1000 Mb/s, set link up (QEMU's value)
        registers[Reg.PBA / 4] = 0x00100030;
        registers[Reg.LEDCTL / 4] = 0x07068302;
        registers[Reg.VET / 4] = 0x8100;
        registers[Reg.MANC / 4] = 0;
        byte[] address = mac.bytes();
        registers[Reg.RA / 4] = (address[0] & 0xff) | (address[1] & 0xff) << 8 | (address[2] & 0xff) << 16 | (address[3] & 0xff) << 24;
        registers[Reg.RA / 4 + 1] = (address[4] & 0xff) | (address[5] & 0xff) << 8 | Reg.RAH_AV;
        phy.reset();
    }

    // ---- transmit ----

    /**
     * Runs the transmit ring unless another thread is running it; then that thread runs it once more for
     * this doorbell before it lets go, so no doorbell is lost and no vCPU waits.
     */
    private void transmit() {
        transmitRequested.set(true);
        while (transmitRequested.get() && transmitLock.tryLock()) {
            boolean interrupt = false;
            try {
                while (transmitRequested.getAndSet(false)) {
                    interrupt |= transmitOnce();
                }
            } finally {
                transmitLock.unlock();
            }
            if (interrupt) {
                updateInterrupt();
            }
        }
    }

    /** One pass over the ring as the registers describe it now; true when an interrupt cause was set. */
    private boolean transmitOnce() {
        Transmitter.Ring ring;
        boolean vlan;
        int vet;
        long startedIn;
        synchronized (this) {
            if (transmitterStale) {
                transmitter.reset();
                transmitterStale = false;
            }
            int tctl = registers[Reg.TCTL / 4];
            if ((tctl & Reg.TCTL_EN) == 0 || closed || paused) {
                return false;
            }
            ring = transmitRing();
            if (ring == null) {
                return false;
            }
            if (!config.busMasterEnabled()) {
                return false; // the descriptors wait until the driver lets the card master the bus
            }
            vlan = (registers[Reg.CTRL / 4] & Reg.CTRL_VME) != 0;
            vet = registers[Reg.VET / 4];
            startedIn = generation;
        }
        Transmitter.Outcome outcome = transmitter.run(dma, ring, vlan, vet, this::send);
        synchronized (this) {
            if (generation != startedIn) {
                return false; // reset meanwhile: the ring is the driver's to set up again
            }
            registers[Reg.TDH / 4] = outcome.head();
            int causes = (outcome.wroteBack() ? Reg.ICR_TXDW : 0) | (outcome.head() == ring.tail() ? Reg.ICR_TXQE : 0);
            icr |= causes;
            return causes != 0;
        }
    }

    /** The transmit ring's registers, or null (counted) when they make no ring. Under the lock. */
    private Transmitter.Ring transmitRing() {
        int size = registers[Reg.TDLEN / 4] / Reg.DESCRIPTOR_BYTES;
        int head = registers[Reg.TDH / 4];
        int tail = registers[Reg.TDT / 4];
        if (size == 0 || head >= size || tail >= size) {
            if (head != tail) {
                ringError("transmit ring of " + size + " descriptors with head " + head + " and tail " + tail);
            }
            return null;
        }
        long base = Integer.toUnsignedLong(registers[Reg.TDBAL / 4]) | (long) registers[Reg.TDBAH / 4] << 32;
        return new Transmitter.Ring(base, size, head, tail);
    }

    /** Hands one finished frame to the backend; a frame the wire loses is counted by the backend. */
    private void send(MemorySegment frame) {
        try {
            if (backend.send(frame)) {
                stats.transmitted((int) frame.byteSize());
            }
        } catch (NetException e) {
            if (!closed && backendFailed.compareAndSet(false, true)) {
                System.err.println("vmguard: " + backend.description() + ": " + e.getMessage());
            }
        }
    }

    // ---- receive ----

    private void receiveLoop() {
        try {
            while (!closed) {
                awaitUnpaused();
                if (!holding()) {
                    int length = backend.receive(incoming.asSlice(0, MAX_RX_FRAME), RECEIVE_POLL);
                    if (length == NetBackend.CLOSED) {
                        return;
                    }
                    if (length == 0) {
                        continue;
                    }
                    hold(length);
                }
                if (deliverHeld()) {
                    updateInterrupt();
                }
            }
        } catch (NetException e) {
            if (!closed && backendFailed.compareAndSet(false, true)) {
                System.err.println("vmguard: " + backend.description() + ": " + e.getMessage());
            }
        } catch (InterruptedException e) {
            // closing
        }
    }

    /** Sleeps while the card is paused: receive stops for a snapshot, and must not spin meanwhile. */
    private synchronized void awaitUnpaused() throws InterruptedException {
        while (paused && !closed) {
            wait();
        }
    }

    private synchronized boolean holding() {
        return heldLength > 0 || paused;
    }

    /** The frame just received becomes the held one; a snapshot's held frame (restored meanwhile) goes first. */
    private synchronized void hold(int length) {
        if (heldLength > 0) {
            stats.rxDropped.incrementAndGet();
            return;
        }
        MemorySegment.copy(incoming, 0, held, 0, length);
        heldLength = length;
        heldSince = System.nanoTime();
    }

    /**
     * Puts the held frame into the guest's receive ring, waiting for buffers; drops it when the receiver is
     * off, the filter refuses it, it is too long, or buffers have not come for {@link #OVERRUN_NANOS}.
     * Returns whether an interrupt cause was set.
     */
    private synchronized boolean deliverHeld() throws InterruptedException {
        while (heldLength > 0 && !paused && !closed) {
            int rctl = registers[Reg.RCTL / 4];
            MemorySegment frame = held.asSlice(0, heldLength);
            if ((rctl & Reg.RCTL_EN) == 0 || !config.busMasterEnabled()) {
                return missed(false); // no receiver: the frame is lost on the wire
            }
            if (!ReceiveFilter.accepts(frame, rctl, registers)) {
                heldLength = 0; // not for this card
                return false;
            }
            int limit = (rctl & Reg.RCTL_LPE) != 0 ? MAX_RX_FRAME : MAX_STANDARD_FRAME;
            if (heldLength > limit) {
                return missed(false);
            }
            Receiver.Ring ring = receiveRing();
            if (ring == null) {
                return missed(false);
            }
            int bufferSize = Receiver.bufferSize(rctl);
            boolean tagged = (registers[Reg.CTRL / 4] & Reg.CTRL_VME) != 0 && heldLength >= 18
                    && InternetChecksum.u16(frame, 12) == (registers[Reg.VET / 4] & 0xffff);
            boolean withFcs = (rctl & Reg.RCTL_SECRC) == 0;
            int length = Math.max(MIN_FRAME, heldLength - (tagged ? VLAN_TAG : 0)) + (withFcs ? FCS : 0);
            int needed = Receiver.buffersFor(length, bufferSize);
            if (ring.free() < needed) {
                if (needed >= ring.size() || System.nanoTime() - heldSince > OVERRUN_NANOS) {
                    return missed(true);
                }
                wait(RECEIVE_POLL.toMillis());
                continue;
            }
            int special = 0;
            length = heldLength;
            if (tagged) {
                special = InternetChecksum.u16(frame, 14);
                MemorySegment.copy(held, 16, held, 12, length - 16);
                length -= VLAN_TAG;
            }
            length = pad(length, withFcs);
            boolean broadcast = ReceiveFilter.isBroadcast(frame);
            boolean multicast = ReceiveFilter.isMulticast(frame);
            Receiver.Outcome outcome = receiver.write(dma, ring, held.asSlice(0, length), bufferSize, special, tagged);
            heldLength = 0;
            registers[Reg.RDH / 4] = outcome.head();
            if (outcome.fault() != null) {
                stats.dmaFaults.incrementAndGet();
                stats.rxDropped.incrementAndGet();
                GuestLog.warn("e1000 dma fault", "e1000: receive refused: " + outcome.fault().getMessage());
            } else if (outcome.delivered()) {
                stats.received(length, broadcast, multicast);
            }
            icr |= Reg.ICR_RXT0;
            Receiver.Ring after = receiveRing();
            if (after != null && after.free() <= after.size() >> (1 + (rctl >>> Reg.RCTL_RDMTS_SHIFT & 3))) {
                icr |= Reg.ICR_RXDMT0;
            }
            return true;
        }
        return false;
    }

    /** Pads the held frame to the Ethernet minimum and appends the FCS when the driver wants it; the new length. */
    private int pad(int length, boolean withFcs) {
        if (length < MIN_FRAME) {
            held.asSlice(length, MIN_FRAME - length).fill((byte) 0);
            length = MIN_FRAME;
        }
        if (withFcs) {
            CRC32 crc = new CRC32();
            crc.update(held.asSlice(0, length).asByteBuffer());
            held.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), length, (int) crc.getValue());
            length += FCS;
        }
        return length;
    }

    /** Drops the held frame as missed (MPC); with {@code overrun}, raises RXO. */
    private boolean missed(boolean overrun) {
        heldLength = 0;
        stats.rxDropped.incrementAndGet();
        stats.add(Reg.MPC, 1);
        if (overrun) {
            icr |= Reg.ICR_RXO;
        }
        return overrun;
    }

    private Receiver.Ring receiveRing() {
        int size = registers[Reg.RDLEN / 4] / Reg.DESCRIPTOR_BYTES;
        int head = registers[Reg.RDH / 4];
        int tail = registers[Reg.RDT / 4];
        if (size == 0 || head >= size || tail >= size) {
            ringError("receive ring of " + size + " descriptors with head " + head + " and tail " + tail);
            return null;
        }
        long base = Integer.toUnsignedLong(registers[Reg.RDBAL / 4]) | (long) registers[Reg.RDBAH / 4] << 32;
        return new Receiver.Ring(base, size, head, tail);
    }

    private void ringError(String what) {
        stats.ringErrors.incrementAndGet();
        GuestLog.warn("e1000 ring", "e1000: refused a " + what);
    }

    // ---- the interrupt line ----

    /** Drives INTx from ICR & IMS through the throttle; never under the register lock. */
    private void updateInterrupt() {
        throttle.update();
    }

    /** What the line should be: ITR's interval when a cause is pending and unmasked (under the register lock). */
    private synchronized long wantedInterrupt() {
        if (paused || closed) {
            return InterruptThrottle.HOLD;
        }
        return (icr & ims) == 0 ? InterruptThrottle.IDLE : (registers[Reg.ITR / 4] & 0xffff) * ITR_UNIT_NANOS;
    }

    // ---- pause, snapshots, close ----

    /** Stops delivering frames and raising interrupts; returns once no frame is being written to the guest. */
    public synchronized void pause() {
        paused = true;
        notifyAll();
    }

    public void resume() {
        synchronized (this) {
            paused = false;
            notifyAll();
        }
        transmit();
        updateInterrupt();
    }

    @Override
    public synchronized void saveState(StateWriter out) {
        out.putBytes("mac", mac.bytes())
                .putInts("registers", registers.clone())
                .putInts("interrupts", new int[] {icr, ims, eerd, mdic, ioAddress})
                .putInts("eeprom", eeprom.state())
                .putInts("phy", phy.state())
                .putInts("transmitter", transmitter.state())
                .putBytes("transmitPacket", transmitter.packetBytes())
                .putBytes("heldFrame", held.asSlice(0, heldLength).toArray(ValueLayout.JAVA_BYTE));
    }

    /**
     * Restores into a card built with the same MAC (the EEPROM holds it; a clone with another address gets a
     * card whose EEPROM and RA[0] say so, and the guest keeps whatever it programmed).
     */
    @Override
    public synchronized void restoreState(StateReader in) throws SnapshotException {
        MacAddress savedMac;
        try {
            savedMac = new MacAddress(in.getBytes("mac", 6));
        } catch (IllegalArgumentException e) {
            throw new SnapshotException("snapshot field " + field(in, "mac") + ": " + e.getMessage());
        }
        int[] saved = in.getInts("registers", registers.length);
        int[] interrupts = in.getInts("interrupts", 5);
        int[] eepromState = in.getInts("eeprom", 5);
        int[] phyState = in.getInts("phy", Phy.REGISTERS);
        int[] transmitState = in.getInts("transmitter", Transmitter.STATE_INTS);
        byte[] packet = in.getBytes("transmitPacket");
        byte[] frame = in.getBytes("heldFrame");
        if (packet.length > Transmitter.MAX_PACKET) {
            throw new SnapshotException("snapshot field " + field(in, "transmitPacket") + " has " + packet.length
                    + " bytes, more than a packet's " + Transmitter.MAX_PACKET);
        }
        if (frame.length > MAX_RX_FRAME || (frame.length != 0 && frame.length < NetBackend.ETHERNET_HEADER)) {
            throw new SnapshotException("snapshot field " + field(in, "heldFrame") + " has " + frame.length
                    + " bytes, not an Ethernet frame of " + NetBackend.ETHERNET_HEADER + ".." + MAX_RX_FRAME);
        }
        for (int offset = 0; offset < FILE_BYTES; offset += 4) {
            registers[offset / 4] = isPlain(offset) ? saved[offset / 4] & mask(offset) : 0;
        }
        icr = interrupts[0] & Reg.ICR_CAUSES;
        ims = interrupts[1] & Reg.ICR_CAUSES;
        eerd = interrupts[2];
        mdic = interrupts[3];
        ioAddress = interrupts[4] & (int) (REGISTER_BAR_SIZE - 4);
        mac = restoreMac != null ? restoreMac : savedMac;
        eeprom = new Eeprom(mac);
        eeprom.restore(eepromState);
        phy.restore(phyState);
        transmitter.restore(transmitState, packet);
        transmitterStale = false;
        MemorySegment.copy(frame, 0, held, ValueLayout.JAVA_BYTE, 0, frame.length);
        heldLength = frame.length;
        heldSince = System.nanoTime();
        generation++;
    }

    private static String field(StateReader in, String key) {
        return in.path().isEmpty() ? key : in.path() + "." + key;
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            notifyAll();
        }
        backend.close();
        throttle.close();
        try {
            receiveThread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        transmitLock.lock();
        try {
            if (!receiveThread.isAlive()) {
                buffers.close();
                receiver.close();
                transmitter.close();
            }
        } finally {
            transmitLock.unlock();
        }
    }
}
