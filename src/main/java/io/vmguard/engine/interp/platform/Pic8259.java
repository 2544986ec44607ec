package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * One 8259A programmable interrupt controller: IRR/ISR/IMR, the ICW1-ICW4 initialisation sequence,
 * OCW1 masking, OCW2 EOI and rotation commands, OCW3 register selection, poll and special mask mode,
 * auto-EOI, and edge or level sensing per input (the ELCR of the PC's chipset, see {@link DualPic}).
 *
 * <p>Inputs are numbered 0-7 on this chip. vCPU thread only.
 */
final class Pic8259 implements Snapshottable {
    private final boolean master;
    /** Which inputs may be level-triggered: the PC wires IRQ 0, 1, 2, 8 and 13 as edge only. */
    private final int elcrWritable;

    private int irr;
    private int isr;
    private int imr;
    /** Input levels as last seen, to detect rising edges. */
    private int lastLevels;
    private int elcr;
    /** The input with the lowest priority is {@code (priorityAdd + 7) & 7}: rotation moves it. */
    private int priorityAdd;
    private int vectorBase;
    private boolean readIsr;
    private boolean poll;
    private boolean specialMask;
    private boolean autoEoi;
    private boolean rotateOnAutoEoi;
    private boolean specialFullyNested;
    private boolean expectIcw4;
    private boolean singleMode;
    /** 0: initialised, 1-3: the next data write is ICW2, ICW3 or ICW4. */
    private int initStep;

    Pic8259(boolean master, int elcrWritable) {
        this.master = master;
        this.elcrWritable = elcrWritable;
    }

    // ---- inputs ----

    /** An input changed level: an edge-triggered input requests on a rising edge only, a level one while high. */
    void setInput(int input, boolean level) {
        int bit = 1 << input;
        if ((elcr & bit) != 0) {
            irr = level ? irr | bit : irr & ~bit;
        } else if (level && (lastLevels & bit) == 0) {
            irr |= bit;
        }
        lastLevels = level ? lastLevels | bit : lastLevels & ~bit;
    }

    // ---- priority resolution ----

    /** The input that would interrupt now (a request above everything in service), or -1. */
    int pendingInput() {
        int priority = priority(irr & ~imr);
        if (priority == 8) {
            return -1;
        }
        int inService = isr;
        if (specialMask) {
            inService &= ~imr; // special mask mode: masked inputs in service do not block lower ones
        }
        if (specialFullyNested && master) {
            inService &= ~(1 << 2); // a higher-priority slave request may nest within the cascade
        }
        return priority < priority(inService) ? (priority + priorityAdd) & 7 : -1;
    }

    /** The priority (0 highest) of the highest-priority bit of {@code mask}, or 8 when there is none. */
    private int priority(int mask) {
        if ((mask & 0xff) == 0) {
            return 8;
        }
        int priority = 0;
        while ((mask & (1 << ((priority + priorityAdd) & 7))) == 0) {
            priority++;
        }
        return priority;
    }

    /** The CPU's INTA for {@code input}: moves it from IRR to ISR (or not, in auto-EOI mode). */
    void acknowledge(int input) {
        int bit = 1 << input;
        if (autoEoi) {
            if (rotateOnAutoEoi) {
                priorityAdd = (input + 1) & 7;
            }
        } else {
            isr |= bit;
        }
        if ((elcr & bit) == 0) {
            irr &= ~bit; // a level-triggered request stays until its input drops
        }
    }

    int vector(int input) {
        return vectorBase + input;
    }

    // ---- registers ----

    /** A read of port 0 (command) or 1 (data). */
    int read(int port) {
        if (poll) {
            poll = false;
            int input = pendingInput();
            if (input < 0) {
                return 0;
            }
            acknowledge(input);
            return 0x80 | input;
        }
        if (port == 0) {
            return readIsr ? isr : irr;
        }
        return imr;
    }

    /** A write of port 0 (command) or 1 (data). */
    void write(int port, int value) {
        value &= 0xff;
        if (port == 0) {
            if ((value & 0x10) != 0) {
                icw1(value);
            } else if ((value & 0x08) != 0) {
                ocw3(value);
            } else {
                ocw2(value);
            }
            return;
        }
        switch (initStep) {
            case 0 -> imr = value; // OCW1
            case 1 -> { // ICW2: vector base, low three bits are the input
                vectorBase = value & 0xf8;
                initStep = singleMode ? (expectIcw4 ? 3 : 0) : 2;
            }
            case 2 -> initStep = expectIcw4 ? 3 : 0; // ICW3: cascade wiring, fixed on a PC
            default -> { // ICW4
                specialFullyNested = (value & 0x10) != 0;
                autoEoi = (value & 0x02) != 0;
                initStep = 0;
            }
        }
    }

    /** ICW1 starts initialisation: everything but the ELCR is reset. Level-triggered mode (LTIM) is ignored; the ELCR decides. */
    private void icw1(int value) {
        lastLevels = 0;
        irr &= elcr;
        imr = 0;
        isr = 0;
        priorityAdd = 0;
        vectorBase = 0;
        readIsr = false;
        poll = false;
        specialMask = false;
        autoEoi = false;
        rotateOnAutoEoi = false;
        specialFullyNested = false;
        expectIcw4 = (value & 0x01) != 0;
        singleMode = (value & 0x02) != 0;
        initStep = 1;
    }

    private void ocw2(int value) {
        int command = value >>> 5;
        switch (command) {
            case 0, 4 -> rotateOnAutoEoi = command == 4; // clear / set rotate in auto-EOI mode
            case 1, 5 -> { // non-specific EOI (5: and rotate)
                int priority = priority(isr);
                if (priority != 8) {
                    int input = (priority + priorityAdd) & 7;
                    isr &= ~(1 << input);
                    if (command == 5) {
                        priorityAdd = (input + 1) & 7;
                    }
                }
            }
            case 3 -> isr &= ~(1 << (value & 7)); // specific EOI
            case 6 -> priorityAdd = (value + 1) & 7; // set priority: input (value & 7) becomes lowest
            case 7 -> { // specific EOI and rotate
                int input = value & 7;
                isr &= ~(1 << input);
                priorityAdd = (input + 1) & 7;
            }
            default -> { } // 2: no operation
        }
    }

    private void ocw3(int value) {
        if ((value & 0x04) != 0) {
            poll = true;
        }
        if ((value & 0x02) != 0) {
            readIsr = (value & 0x01) != 0;
        }
        if ((value & 0x40) != 0) {
            specialMask = (value & 0x20) != 0;
        }
    }

    int elcr() {
        return elcr;
    }

    void setElcr(int value) {
        elcr = value & elcrWritable;
    }

    // ---- snapshot ----

    /** The registers, the last input levels, and where the chip is in its command sequences. */
    @Override
    public void saveState(StateWriter out) {
        out.putLong("irr", irr);
        out.putLong("isr", isr);
        out.putLong("imr", imr);
        out.putLong("last_levels", lastLevels);
        out.putLong("elcr", elcr);
        out.putLong("priority_add", priorityAdd);
        out.putLong("vector_base", vectorBase);
        out.putBoolean("read_isr", readIsr);
        out.putBoolean("poll", poll);
        out.putBoolean("special_mask", specialMask);
        out.putBoolean("auto_eoi", autoEoi);
        out.putBoolean("rotate_on_auto_eoi", rotateOnAutoEoi);
        out.putBoolean("special_fully_nested", specialFullyNested);
        out.putBoolean("expect_icw4", expectIcw4);
        out.putBoolean("single_mode", singleMode);
        out.putLong("init_step", initStep);
    }

    /** Restores what {@link #saveState} wrote: 8-bit registers, and an ELCR within what this chip wires as level. */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        int requests = in.getInt("irr", 0, 0xff);
        int inService = in.getInt("isr", 0, 0xff);
        int mask = in.getInt("imr", 0, 0xff);
        int levels = in.getInt("last_levels", 0, 0xff);
        int levelTriggered = (int) SnapshotFields.bits(in, "elcr", elcrWritable);
        int add = in.getInt("priority_add", 0, 7);
        int base = (int) SnapshotFields.bits(in, "vector_base", 0xf8);
        boolean isrSelected = in.getBoolean("read_isr");
        boolean polling = in.getBoolean("poll");
        boolean specialMaskMode = in.getBoolean("special_mask");
        boolean automaticEoi = in.getBoolean("auto_eoi");
        boolean rotate = in.getBoolean("rotate_on_auto_eoi");
        boolean nested = in.getBoolean("special_fully_nested");
        boolean icw4 = in.getBoolean("expect_icw4");
        boolean single = in.getBoolean("single_mode");
        int step = in.getInt("init_step", 0, 3);
        irr = requests;
        isr = inService;
        imr = mask;
        lastLevels = levels;
        elcr = levelTriggered;
        priorityAdd = add;
        vectorBase = base;
        readIsr = isrSelected;
        poll = polling;
        specialMask = specialMaskMode;
        autoEoi = automaticEoi;
        rotateOnAutoEoi = rotate;
        specialFullyNested = nested;
        expectIcw4 = icw4;
        singleMode = single;
        initStep = step;
    }
}
