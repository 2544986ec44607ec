package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * The PC's pair of 8259As: the master at ports 0x20/0x21 with the slave cascaded on its input 2 (ports
 * 0xa0/0xa1), and the chipset's edge/level control registers (ELCR) at 0x4d0/0x4d1. IRQs 0-7 are the
 * master's inputs, 8-15 the slave's.
 *
 * <p>The master's output is the CPU's INTR (through the local APIC's LINT0 in virtual-wire mode);
 * {@link #acknowledge()} is the CPU's interrupt-acknowledge cycle and yields the vector. vCPU thread only.
 */
final class DualPic implements Snapshottable {
    static final int MASTER_COMMAND = 0x20, MASTER_DATA = 0x21, SLAVE_COMMAND = 0xa0, SLAVE_DATA = 0xa1;
    static final int ELCR_MASTER = 0x4d0, ELCR_SLAVE = 0x4d1;
    private static final int CASCADE = 2;
    private static final int SPURIOUS = 7;

    private final Pic8259 master = new Pic8259(true, 0xf8);
    private final Pic8259 slave = new Pic8259(false, 0xde);

    static boolean claims(int port) {
        return port == MASTER_COMMAND || port == MASTER_DATA || port == SLAVE_COMMAND || port == SLAVE_DATA
                || port == ELCR_MASTER || port == ELCR_SLAVE;
    }

    /** Drives IRQ {@code irq} (0-15). IRQ 2 is the cascade and not an input. */
    void setIrq(int irq, boolean level) {
        if (irq < 8) {
            if (irq != CASCADE) {
                master.setInput(irq, level);
            }
        } else {
            slave.setInput(irq - 8, level);
            cascade();
        }
    }

    /** Raises and lowers IRQ {@code irq}: one edge. */
    void pulse(int irq) {
        setIrq(irq, true);
        setIrq(irq, false);
    }

    /** The slave's output is the master's input 2. */
    private void cascade() {
        master.setInput(CASCADE, slave.pendingInput() >= 0);
    }

    /** The INTR output: the master has a request the CPU should acknowledge. */
    boolean intr() {
        return master.pendingInput() >= 0;
    }

    /**
     * Interrupt acknowledge: the vector of the highest-priority request, now in service. With no request
     * left (it went away before the acknowledge) the chip answers its spurious IRQ 7 (15 on the slave)
     * without marking it in service, as the hardware does.
     */
    int acknowledge() {
        int input = master.pendingInput();
        int vector;
        if (input < 0) {
            vector = master.vector(SPURIOUS);
        } else if (input == CASCADE) {
            int slaveInput = slave.pendingInput();
            if (slaveInput >= 0) {
                slave.acknowledge(slaveInput);
                vector = slave.vector(slaveInput);
            } else {
                vector = slave.vector(SPURIOUS);
            }
            master.acknowledge(CASCADE);
            cascade();
        } else {
            master.acknowledge(input);
            vector = master.vector(input);
        }
        return vector;
    }

    int read(int port) {
        int value = switch (port) {
            case MASTER_COMMAND, MASTER_DATA -> master.read(port & 1);
            case SLAVE_COMMAND, SLAVE_DATA -> slave.read(port & 1);
            case ELCR_MASTER -> master.elcr();
            case ELCR_SLAVE -> slave.elcr();
            default -> 0xff;
        };
        cascade(); // a poll read acknowledges
        return value;
    }

    void write(int port, int value) {
        switch (port) {
            case MASTER_COMMAND, MASTER_DATA -> master.write(port & 1, value);
            case SLAVE_COMMAND, SLAVE_DATA -> slave.write(port & 1, value);
            case ELCR_MASTER -> master.setElcr(value);
            case ELCR_SLAVE -> slave.setElcr(value);
            default -> { }
        }
        cascade();
    }

    // ---- snapshot ----

    /** The two chips; the ELCRs are theirs. The cascade line is the master's input 2, saved with it. */
    @Override
    public void saveState(StateWriter out) {
        out.save("master", master);
        out.save("slave", slave);
    }

    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        in.restore("master", master);
        in.restore("slave", slave);
    }
}
