package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.events.VmEvents;
import io.vmguard.pci.PciAddress;
import io.vmguard.testing.GuestRam;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every door a device gets tells the engine of the guest memory it wrote, and only of that. */
class DmaDoorsTest {
    private final GuestRam ram = new GuestRam(1 << 16);
    private final List<List<Long>> told = new ArrayList<>();

    private DmaDoors doors(boolean iommu) {
        return DmaDoors.create(ram.memory(), VmEvents.none(), iommu, (address, length) -> told.add(List.of(address, length)));
    }

    @Test
    void withoutAnIommuEveryDeviceWriteIsToldToTheEngine() throws DmaFault {
        DmaDoors doors = doors(false);
        DmaSpace pci = doors.forPci(new PciAddress(0, 3, 0), "pci device");
        DmaSpace mmio = doors.forMmio(0, "mmio device");
        pci.write(0x2000, MemorySegment.ofArray(new byte[8]));
        mmio.writeShort(0x3000, (short) 1);
        pci.readInt(0x2000);

        assertEquals(List.of(List.of(0x2000L, 8L), List.of(0x3000L, 2L)), told);
    }

    @Test
    void withAnIommuTheIommusOwnWritesAreToldAndRefusedTranslatedWritesAreNot() throws DmaFault {
        DmaDoors doors = doors(true);
        doors.untranslated().writeInt(0x4000, 7);
        DmaSpace unattached = doors.forPci(new PciAddress(0, 3, 0), "pci device");
        assertThrows(DmaFault.class, () -> unattached.writeInt(0x4000, 7));

        assertEquals(List.of(List.of(0x4000L, 4L)), told);
    }
}
