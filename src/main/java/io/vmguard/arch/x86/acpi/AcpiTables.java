package io.vmguard.arch.x86.acpi;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the guest's ACPI tables into [{@link X86Layout#ACPI_TABLES}, {@link X86Layout#ACPI_TABLES_END}):
 * the RSDP first (inside 0xE0000-0xFFFFF, where Linux also scans for it), then the DSDT, the FADT that
 * points at it, the other tables, and the XSDT listing them. The RSDP's address goes to the kernel in
 * boot_params as well.
 */
public final class AcpiTables {
    private AcpiTables() {}

    /** Writes the tables for {@code platform}; returns the RSDP's guest-physical address. */
    public static long install(GuestMemory memory, AcpiPlatform platform) {
        TableArea area = new TableArea(X86Layout.ACPI_TABLES, X86Layout.ACPI_TABLES_END);
        long rsdp = area.reserve("RSDP", Rsdp.SIZE);
        long dsdt = area.add(Dsdt.build(platform));
        List<Long> listed = new ArrayList<>();
        listed.add(area.add(Fadt.build(dsdt)));
        for (byte[] table : describedTables(platform)) {
            listed.add(area.add(table));
        }
        area.fill(rsdp, Rsdp.build(area.add(Xsdt.build(listed))));
        area.writeTo(memory);
        return rsdp;
    }

    /**
     * The tables the XSDT lists after the FADT, each built from the platform alone: a new table is one
     * more line here.
     */
    static List<byte[]> describedTables(AcpiPlatform platform) {
        List<byte[]> tables = new ArrayList<>();
        tables.add(Madt.build(platform.vcpus(), X86Layout.LOCAL_APIC_BASE, X86Layout.IOAPIC_BASE));
        if (platform.pciHost()) {
            tables.add(Mcfg.build(X86Layout.PCI_ECAM, X86Layout.PCI_LAST_BUS));
        }
        platform.iommu().ifPresent(viot -> tables.add(viot.table()));
        platform.tpm().ifPresent(tpm -> tables.add(tpm.table()));
        return tables;
    }
}
