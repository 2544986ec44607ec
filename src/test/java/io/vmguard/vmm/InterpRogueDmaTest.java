package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.devices.dmatest.DmaTestDevice;
import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.dma.GuestDmaSpace;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rogue-DMA guest script (guest/programs/rogue-dma.c) against the DMA test device: a root process
 * programs the device to write over the kernel's /proc/version format string. With the device on plain
 * guest-physical DMA (a PC without an IOMMU) the attack must succeed, which shows the script can fail;
 * with a door that refuses every access (what an IOMMU with no mapping for the device does) it must fail
 * and leave the kernel intact. The IOMMU's own half is its test's.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpRogueDmaTest {
    @TempDir
    Path dir;

    /** A DMA door chosen once the VM (and so its memory) exists: the device is built before guest memory is known. */
    private static final class LateDma implements DmaSpace {
        private volatile DmaSpace target;

        private DmaSpace target() throws DmaFault {
            DmaSpace chosen = target;
            if (chosen == null) {
                throw new DmaFault(0, 0, DmaFault.Access.READ, "no DMA space yet");
            }
            return chosen;
        }

        @Override
        public void read(long address, MemorySegment destination) throws DmaFault {
            target().read(address, destination);
        }

        @Override
        public void write(long address, MemorySegment source) throws DmaFault {
            target().write(address, source);
        }

        @Override
        public short readShort(long address) throws DmaFault {
            return target().readShort(address);
        }

        @Override
        public int readInt(long address) throws DmaFault {
            return target().readInt(address);
        }

        @Override
        public long readLong(long address) throws DmaFault {
            return target().readLong(address);
        }

        @Override
        public void writeShort(long address, short value) throws DmaFault {
            target().writeShort(address, value);
        }

        @Override
        public void writeInt(long address, int value) throws DmaFault {
            target().writeInt(address, value);
        }
    }

    /** Refuses everything, as a translation with no mapping for the device would. */
    private static final class NoMappings implements DmaSpace {
        @Override
        public void read(long address, MemorySegment destination) throws DmaFault {
            throw new DmaFault(address, destination.byteSize(), DmaFault.Access.READ, "no mapping");
        }

        @Override
        public void write(long address, MemorySegment source) throws DmaFault {
            throw new DmaFault(address, source.byteSize(), DmaFault.Access.WRITE, "no mapping");
        }

        @Override
        public short readShort(long address) throws DmaFault {
            throw new DmaFault(address, 2, DmaFault.Access.READ, "no mapping");
        }

        @Override
        public int readInt(long address) throws DmaFault {
            throw new DmaFault(address, 4, DmaFault.Access.READ, "no mapping");
        }

        @Override
        public long readLong(long address) throws DmaFault {
            throw new DmaFault(address, 8, DmaFault.Access.READ, "no mapping");
        }

        @Override
        public void writeShort(long address, short value) throws DmaFault {
            throw new DmaFault(address, 2, DmaFault.Access.WRITE, "no mapping");
        }

        @Override
        public void writeInt(long address, int value) throws DmaFault {
            throw new DmaFault(address, 4, DmaFault.Access.WRITE, "no mapping");
        }
    }

    /** Boots the guest with the DMA test device on {@code door(vm)}; runs rogue-dma; returns the console. */
    private String runRogueDma(Function<Vm, DmaSpace> door, RunOutcome expected) throws Exception {
        Path console = dir.resolve("console.log");
        VmConfig config = new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=rogue-dma", 256L << 20, "interp", new SerialTarget.File(console));
        LateDma dma = new LateDma();
        RunOutcome outcome;
        try (Vm vm = Vm.create(config, new InterpEngine(), pci -> pci.add(new DmaTestDevice(dma)))) {
            dma.target = door.apply(vm);
            outcome = vm.run();
        }
        String text = Files.readString(console);
        assertEquals(expected, outcome, text);
        return text;
    }

    @Test
    void withoutAnIommuARootProcessOverwritesTheKernelByDma() throws Exception {
        String text = runRogueDma(vm -> new GuestDmaSpace(vm.memory()), new RunOutcome.PoweredOff(1));
        assertTrue(text.contains("rogue-dma: device 0000:00:01.0"), text);
        assertTrue(text.contains("rogue-dma: /dev/mem confirms the banner's format"), text);
        assertTrue(text.contains("rogue-dma: DMA read of the banner: done"), text);
        assertTrue(text.contains("rogue-dma: DMA write over the banner: done"), text);
        assertTrue(text.lines().anyMatch(line -> line.startsWith("rogue-dma: after: ROGUE-DMA-OWNED ")), text);
        assertTrue(text.lines().anyMatch(line -> line.startsWith("rogue-dma: original bytes put back: Linux version ")), text);
        assertTrue(text.contains("rogue-dma: VERDICT kernel-overwritten"), text);
        assertTrue(text.contains("VMGUARD-RESULT name=rogue-dma status=1"), text);
    }

    @Test
    void aDoorThatRefusesTheDevicesDmaLeavesTheKernelIntactAndTheScriptPasses() throws Exception {
        String text = runRogueDma(vm -> new NoMappings(), new RunOutcome.PoweredOff(0));
        assertTrue(text.contains("rogue-dma: DMA read of the banner: refused, status 2"), text);
        assertTrue(text.contains("rogue-dma: DMA write over the banner: refused, status 2"), text);
        assertTrue(text.contains("rogue-dma: VERDICT attack-failed kernel-intact"), text);
        assertTrue(text.contains("VMGUARD-RESULT name=rogue-dma status=0"), text);
    }
}
