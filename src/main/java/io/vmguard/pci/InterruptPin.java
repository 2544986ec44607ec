package io.vmguard.pci;

/** The Interrupt Pin register's values: which INTx pin a function uses, if any. */
public enum InterruptPin {
    NONE, INTA, INTB, INTC, INTD;

    /** The value the Interrupt Pin register reads. */
    int register() {
        return ordinal();
    }

    /** 0 for INTA to 3 for INTD, as interrupt routing counts pins. Not for {@link #NONE}. */
    int index() {
        if (this == NONE) {
            throw new IllegalStateException("no interrupt pin");
        }
        return ordinal() - 1;
    }
}
