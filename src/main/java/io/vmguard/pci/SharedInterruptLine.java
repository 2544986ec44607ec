package io.vmguard.pci;

import io.vmguard.bus.InterruptLine;

/**
 * One GSI that several functions' INTx pins are wired to, as on a real board: PCI interrupts are
 * level-triggered and active-low open-drain, so the line is asserted while any of them asserts it. Each
 * function gets its own {@link #newInput() input}; without this, one device lowering its pin would
 * silence another's pending interrupt.
 */
final class SharedInterruptLine {
    private final InterruptLine line;
    /** How many inputs assert the line now. */
    private int assertingInputs;

    SharedInterruptLine(InterruptLine line) {
        this.line = line;
    }

    InterruptLine newInput() {
        return new InterruptLine() {
            private boolean level;

            @Override
            public void set(boolean asserted) {
                synchronized (SharedInterruptLine.this) {
                    if (asserted == level) {
                        return;
                    }
                    level = asserted;
                    assertingInputs += asserted ? 1 : -1;
                    if (asserted ? assertingInputs == 1 : assertingInputs == 0) {
                        line.set(asserted);
                    }
                }
            }
        };
    }
}
