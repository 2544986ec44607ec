package io.vmguard.arch.x86.acpi;

/**
 * The Multiple APIC Description Table (ACPI 6.5, 5.2.12), revision 4 (ACPI 6.0): the local APIC address,
 * one Processor Local APIC entry per vCPU (APIC id = ACPI processor UID = vCPU index), the I/O APIC with
 * its 24 inputs from GSI 0, and one interrupt source override.
 *
 * <p>The override says ISA IRQ 0 arrives at GSI 2: the PIT's output is wired to I/O APIC input 2, as on
 * every PC since the I/O APIC (and in the interpreter's platform and KVM's in-kernel irqchip). No other
 * ISA IRQ is moved, and all keep the ISA default (edge, active high), which is how the devices drive them.
 * There is no Local APIC NMI entry: nothing in vmguard raises LINT1.
 */
final class Madt {
    static final String SIGNATURE = "APIC";
    private static final int REVISION = 4;
    /** The 8259 pair is present too (flag PCAT_COMPAT); Linux then need not probe for it. */
    private static final int PCAT_COMPAT = 1;
    private static final int TYPE_LOCAL_APIC = 0, TYPE_IO_APIC = 1, TYPE_INTERRUPT_OVERRIDE = 2;
    private static final int LOCAL_APIC_ENABLED = 1;
    private static final int ISA_BUS = 0;
    /** MPS INTI flags 0: polarity and trigger conform to the bus (ISA: active high, edge). */
    private static final int CONFORMS_TO_BUS = 0;
    /** The I/O APIC's id: 0, what its ID register holds after reset (KVM's and the interpreter's). */
    private static final int IO_APIC_ID = 0;
    private static final int TIMER_ISA_IRQ = 0, TIMER_GSI = 2;

    private Madt() {}

    static byte[] build(int vcpus, long localApicBase, long ioApicBase) {
        ByteWriter body = new ByteWriter()
                .u32(localApicBase)
                .u32(PCAT_COMPAT);
        for (int cpu = 0; cpu < vcpus; cpu++) {
            body.u8(TYPE_LOCAL_APIC).u8(8).u8(cpu).u8(cpu).u32(LOCAL_APIC_ENABLED);
        }
        body.u8(TYPE_IO_APIC).u8(12).u8(IO_APIC_ID).u8(0).u32(ioApicBase).u32(0);
        body.u8(TYPE_INTERRUPT_OVERRIDE).u8(10).u8(ISA_BUS).u8(TIMER_ISA_IRQ).u32(TIMER_GSI).u16(CONFORMS_TO_BUS);
        return Sdt.build(SIGNATURE, REVISION, body.toArray());
    }
}
