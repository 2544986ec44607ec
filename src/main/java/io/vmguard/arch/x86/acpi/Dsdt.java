package io.vmguard.arch.x86.acpi;

import io.vmguard.arch.x86.PciInterruptRouting;
import io.vmguard.arch.x86.X86Layout;
import java.util.ArrayList;
import java.util.List;

/**
 * The Differentiated System Description Table: the AML namespace, here all under {@code \_SB}. In ASL:
 *
 * <pre>
 * Scope (\_SB) {
 *     Device (COM1) {                       // the console UART
 *         Name (_HID, EisaId ("PNP0501"))
 *         Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 1, 8)
 *                                           Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 4 } })
 *     }
 *     Device (RTC_) {                       // the CMOS clock
 *         Name (_HID, EisaId ("PNP0B00"))
 *         Name (_CRS, ResourceTemplate () { IO (Decode16, 0x70, 0x70, 1, 2) })
 *     }
 *     Device (PCI0) {                       // when there is a PCI host bridge
 *         Name (_HID, EisaId ("PNP0A08"))   // PCI Express root bridge
 *         Name (_CID, EisaId ("PNP0A03"))   // ... compatible with a PCI root bridge
 *         Name (_SEG, 0)  Name (_BBN, 0)  Name (_UID, 0)
 *         Name (_CRS, ResourceTemplate () { buses 0..PCI_LAST_BUS, IO 0xCF8-0xCFF,
 *                                           I/O windows 0x0-0xCF7 and 0xD00-0xFFFF, PCI_MMIO_WINDOW })
 *         Name (_PRT, Package () { Package () { 0xSSSSFFFF, pin, 0, gsi } ... })   // slots 1-31, INTA-INTD
 *     }
 *     Device (MRES) {                       // the ECAM window, reserved as a motherboard resource
 *         Name (_HID, EisaId ("PNP0C02"))  Name (_UID, 0)
 *         Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, PCI_ECAM, PCI_ECAM_SIZE) })
 *     }
 *     Device (VR00) {                       // one per virtio-mmio device: VR00, VR01, ...
 *         Name (_HID, "LNRO0005")  Name (_UID, 0)
 *         Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, base, size)
 *                                           Interrupt (ResourceConsumer, Level, ActiveLow, Shared) { gsi } })
 *     }
 *     Device (TPM_) { ... }                 // when there is a TPM: see Tpm2
 * }
 * </pre>
 *
 * <p>The ISA devices must be declared: the FADT makes this a hardware-reduced platform, for which Linux
 * installs no legacy PIC and so maps no ISA IRQ by itself; the UART's IRQ 4 reaches a driver only through
 * its _CRS (without it the console loses userland's output, which the tty layer sends interrupt-driven).
 * The RTC lists no interrupt because vmguard's CMOS clock raises none (rtc-cmos then runs without alarms).
 * The i8042 is not declared: vmguard uses only its reset line, and the guest has no i8042 driver.
 *
 * <p>Linux uses MCFG's ECAM at run time only if the window is reserved, in the e820 map or by a
 * PNP0C01/PNP0C02 device's _CRS (arch/x86/pci/mmconfig-shared.c); MRES is the ACPI half of that.
 * "LNRO0005" is the id Linux's virtio_mmio driver matches ACPI devices by.
 */
final class Dsdt {
    static final String SIGNATURE = "DSDT";
    /** Revision 2 and above makes AML integers 64 bits wide. */
    private static final int REVISION = 2;
    private static final int PCI_CONFIG_PORT = 0xcf8, PCI_CONFIG_PORTS = 8;
    /** The PCI I/O windows: all ports but the configuration ports, as QEMU and Cloud Hypervisor declare them. */
    private static final int IO_WINDOW_LOW_END = 0xcf7, IO_WINDOW_HIGH_START = 0xd00, IO_LAST_PORT = 0xffff;
    /** The PC's COM1 and CMOS clock, where vmguard's legacy devices sit (devices.legacy.Serial8250, CmosRtc). */
    private static final int COM1_PORT = 0x3f8, COM1_PORTS = 8, COM1_IRQ = 4;
    private static final int RTC_PORT = 0x70, RTC_PORTS = 2;
    /** A _PRT address names every function of a device: 0xFFFF in the low word. */
    private static final int ALL_FUNCTIONS = 0xffff;

    private Dsdt() {}

    static byte[] build(AcpiPlatform platform) {
        List<Aml.Term> devices = new ArrayList<>();
        devices.add(serialPort());
        devices.add(realTimeClock());
        if (platform.pciHost()) {
            devices.add(pciHostBridge());
            devices.add(ecamReservation());
        }
        for (int i = 0; i < platform.virtioMmio().size(); i++) {
            AcpiPlatform.VirtioMmioSlot slot = platform.virtioMmio().get(i);
            devices.add(virtioMmio(i, slot));
        }
        platform.tpm().ifPresent(tpm -> devices.add(tpm.device()));
        Aml.Scope systemBus = new Aml.Scope(NameString.of("\\_SB"), devices);
        return Sdt.build(SIGNATURE, REVISION, systemBus.toBytes());
    }

    private static Aml.Device serialPort() {
        return Aml.device("COM1",
                Aml.name("_HID", Aml.eisaId("PNP0501")),
                Aml.name("_CRS", ResourceTemplate.of(
                        new Resource.Io(COM1_PORT, COM1_PORT, 1, COM1_PORTS),
                        new Resource.Interrupt(Resource.Trigger.EDGE, Resource.Polarity.ACTIVE_HIGH, false, COM1_IRQ))));
    }

    private static Aml.Device realTimeClock() {
        return Aml.device("RTC_",
                Aml.name("_HID", Aml.eisaId("PNP0B00")),
                Aml.name("_CRS", ResourceTemplate.of(new Resource.Io(RTC_PORT, RTC_PORT, 1, RTC_PORTS))));
    }

    private static Aml.Device pciHostBridge() {
        return Aml.device("PCI0",
                Aml.name("_HID", Aml.eisaId("PNP0A08")),
                Aml.name("_CID", Aml.eisaId("PNP0A03")),
                Aml.name("_SEG", Aml.integer(0)),
                Aml.name("_BBN", Aml.integer(0)),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_CRS", ResourceTemplate.of(
                        new Resource.WordBusNumber(0, X86Layout.PCI_LAST_BUS),
                        new Resource.Io(PCI_CONFIG_PORT, PCI_CONFIG_PORT, 1, PCI_CONFIG_PORTS),
                        new Resource.WordIo(0, IO_WINDOW_LOW_END),
                        new Resource.WordIo(IO_WINDOW_HIGH_START, IO_LAST_PORT),
                        new Resource.DWordMemory(X86Layout.PCI_MMIO_WINDOW,
                                X86Layout.PCI_MMIO_WINDOW + X86Layout.PCI_MMIO_WINDOW_SIZE - 1))),
                Aml.name("_PRT", routingTable()));
    }

    /** _PRT: one entry per slot and pin, straight to a GSI (source 0), as {@link PciInterruptRouting} routes them. */
    private static Aml.Package routingTable() {
        List<Aml.Data> entries = new ArrayList<>();
        for (int slot = PciInterruptRouting.FIRST_SLOT; slot <= PciInterruptRouting.LAST_SLOT; slot++) {
            for (int pin = 0; pin < PciInterruptRouting.PINS; pin++) {
                entries.add(Aml.pkg(
                        Aml.integer(((long) slot << 16) | ALL_FUNCTIONS),
                        Aml.integer(pin),
                        Aml.integer(0),
                        Aml.integer(PciInterruptRouting.gsi(slot, pin))));
            }
        }
        return Aml.pkg(entries);
    }

    private static Aml.Device ecamReservation() {
        return Aml.device("MRES",
                Aml.name("_HID", Aml.eisaId("PNP0C02")),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_CRS", ResourceTemplate.of(new Resource.Memory32Fixed(X86Layout.PCI_ECAM, X86Layout.PCI_ECAM_SIZE))));
    }

    /**
     * Level, active-low and shared: the device GSIs also carry PCI INTx, which Linux sets up that way from
     * the _PRT, and an I/O APIC pin takes only users that agree on trigger and polarity.
     */
    private static Aml.Device virtioMmio(int index, AcpiPlatform.VirtioMmioSlot slot) {
        return Aml.device(String.format("VR%02X", index),
                Aml.name("_HID", Aml.string("LNRO0005")),
                Aml.name("_UID", Aml.integer(index)),
                Aml.name("_CRS", ResourceTemplate.of(
                        new Resource.Memory32Fixed(slot.base(), slot.size()),
                        new Resource.Interrupt(Resource.Trigger.LEVEL, Resource.Polarity.ACTIVE_LOW, true, slot.gsi()))));
    }
}
