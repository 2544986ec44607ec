package io.vmguard.engine.kvm;

import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.MsiMessage;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A KVM VM: the VM descriptor with an in-kernel irqchip (PIC, I/O APIC, LAPICs) and PIT, and one memory
 * slot per guest RAM region. It keeps no reference to guest memory: KVM's slots hold the addresses, and
 * the caller keeps the mappings alive for the VM's life.
 */
public final class KvmVm implements VirtualMachine {
    /**
     * Where KVM keeps the three-page TSS that Intel VMX needs to run real-mode code: in the hole below
     * the BIOS flash at the top of 4 GiB, where vmguard never puts RAM.
     */
    static final long TSS_ADDRESS = 0xfffbd000L;
    /** Where KVM keeps the identity page table VMX needs for the same purpose, the page below the TSS. */
    static final long IDENTITY_MAP_ADDRESS = 0xfffbc000L;
    private static final long RESERVED_END = TSS_ADDRESS + 3 * 4096;

    private static final long PAGE_SIZE = 4096;
    /** The GSIs KVM's default routing wires: the I/O APIC's 24 pins, 0-15 also to the PICs. */
    static final int GSI_COUNT = 24;
    /** xAPIC ids are 8 bits and 0xff is the broadcast id. */
    private static final int MAX_VCPU_INDEX = 254;

    private final int fd;
    private final int vcpuMmapSize;
    private final List<CpuidEntry> supportedCpuid;
    private final int kickSignal;
    private final KvmStateFormat stateFormat;
    private final KvmMonitoring monitoring;
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    /** Interrupt lines hold the read side so close() cannot pull the descriptor out from under an ioctl. */
    private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;

    private KvmVm(int fd, int vcpuMmapSize, List<CpuidEntry> supportedCpuid, int kickSignal, KvmStateFormat stateFormat,
                  boolean msrTraps) {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
        this.supportedCpuid = List.copyOf(supportedCpuid);
        this.kickSignal = kickSignal;
        this.stateFormat = stateFormat;
        this.monitoring = new KvmMonitoring(this, msrTraps);
    }

    /**
     * Creates the VM. {@code system} is only needed during creation; the caller closes it afterwards
     * (the VM descriptor keeps KVM alive on its own).
     */
    static KvmVm create(KvmSystem system, GuestMemory memory) throws EngineException {
        checkLayout(memory);
        int kickSignal = KickSignal.number();
        int mmapSize = system.vcpuMmapSize();
        List<CpuidEntry> cpuid = system.supportedCpuid();
        boolean xsave = system.extension(KvmCapability.KVM_CAP_XSAVE) > 0;
        boolean xcrs = system.extension(KvmCapability.KVM_CAP_XCRS) > 0;
        Set<Integer> savedMsrs = system.msrIndexList();
        List<Integer> msrs = KvmSnapshotMsrs.NAMES.keySet().stream().filter(savedMsrs::contains).toList();
        boolean msrTraps = system.extension(KvmCapability.KVM_CAP_X86_USER_SPACE_MSR) > 0
                && system.extension(KvmCapability.KVM_CAP_X86_MSR_FILTER) > 0;
        int vmFd = system.createVm();
        KvmStateFormat format;
        try {
            format = stateFormat(vmFd, xsave, xcrs, msrs);
        } catch (EngineException e) {
            Libc.close(vmFd);
            throw e;
        }
        KvmVm vm = new KvmVm(vmFd, mmapSize, cpuid, kickSignal, format, msrTraps);
        try {
            vm.setUp(memory);
        } catch (EngineException e) {
            vm.close();
            throw e;
        }
        return vm;
    }

    /**
     * The XSAVE area's size is asked of the VM, as the KVM_CAP_XSAVE2 documentation requires (a VM may
     * be allowed more state than the host default); a kernel older than 5.17 answers 0 and has only the
     * fixed 4 KiB KVM_GET_XSAVE.
     */
    private static KvmStateFormat stateFormat(int vmFd, boolean xsave, boolean xcrs, List<Integer> msrs)
            throws EngineException {
        if (!xsave) {
            return new KvmStateFormat(0, false, xcrs, msrs);
        }
        int xsave2;
        try {
            xsave2 = Libc.ioctl(vmFd, KvmIoctls.KVM_CHECK_EXTENSION, KvmCapability.KVM_CAP_XSAVE2.number());
        } catch (NativeException e) {
            throw new EngineException("KVM_CHECK_EXTENSION KVM_CAP_XSAVE2 on the VM: " + Libc.strerror(e.errno()), e);
        }
        int fixed = (int) KvmXsaveLayout.LAYOUT.byteSize();
        return xsave2 > 0 ? new KvmStateFormat(Math.max(xsave2, fixed), true, xcrs, msrs)
                : new KvmStateFormat(fixed, false, xcrs, msrs);
    }

    private static void checkLayout(GuestMemory memory) throws EngineException {
        for (MemoryRegion region : memory.regions()) {
            if (region.start() % PAGE_SIZE != 0 || region.size() % PAGE_SIZE != 0
                    || region.backing().address() % PAGE_SIZE != 0) {
                throw new EngineException(String.format(
                        "guest memory region 0x%x+0x%x is not 4 KiB aligned, which KVM requires", region.start(), region.size()));
            }
            if (region.start() < RESERVED_END && IDENTITY_MAP_ADDRESS < region.end()) {
                throw new EngineException(String.format(
                        "guest memory region 0x%x+0x%x overlaps KVM's private pages at 0x%x-0x%x",
                        region.start(), region.size(), IDENTITY_MAP_ADDRESS, RESERVED_END));
            }
        }
    }

    private void setUp(GuestMemory memory) throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            vmIoctl(KvmIoctls.KVM_SET_TSS_ADDR, TSS_ADDRESS, "KVM_SET_TSS_ADDR");
            // Must come before the first vCPU exists.
            MemorySegment identityMap = arena.allocateFrom(ValueLayout.JAVA_LONG, IDENTITY_MAP_ADDRESS);
            vmIoctl(KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR, identityMap.address(), "KVM_SET_IDENTITY_MAP_ADDR");
            vmIoctl(KvmIoctls.KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
            MemorySegment pitConfig = arena.allocate(KvmPitConfigLayout.LAYOUT);
            KvmPitConfigLayout.write(pitConfig, 0);
            vmIoctl(KvmIoctls.KVM_CREATE_PIT2, pitConfig.address(), "KVM_CREATE_PIT2");
            MemorySegment slot = arena.allocate(KvmUserspaceMemoryRegionLayout.LAYOUT);
            List<MemoryRegion> regions = memory.regions();
            for (int i = 0; i < regions.size(); i++) {
                MemoryRegion region = regions.get(i);
                KvmUserspaceMemoryRegionLayout.write(slot, i, region.start(), region.size(), region.backing().address());
                vmIoctl(KvmIoctls.KVM_SET_USER_MEMORY_REGION, slot.address(),
                        String.format("KVM_SET_USER_MEMORY_REGION slot %d (0x%x+0x%x)", i, region.start(), region.size()));
            }
        }
    }

    @Override
    public synchronized Vcpu createVcpu(int index) throws EngineException {
        if (closed) {
            throw new EngineException("the KVM VM is closed");
        }
        if (index < 0 || index > MAX_VCPU_INDEX) {
            throw new EngineException("vCPU index " + index + " out of range 0-" + MAX_VCPU_INDEX);
        }
        KvmVcpu vcpu = KvmVcpu.create(fd, index, vcpuMmapSize, supportedCpuid, kickSignal, stateFormat, monitoring);
        vcpus.add(vcpu);
        return vcpu;
    }

    /** MSR-write traps where the kernel has them (see {@link KvmMonitoring}); empty on kernels before 5.10. */
    @Override
    public Optional<Monitoring> monitoring() {
        return monitoring.traps().isEmpty() ? Optional.empty() : Optional.of(monitoring);
    }

    /** Makes every vCPU inside KVM_RUN leave it once and waits until each has (see {@link VcpuKicker#bounce()}). */
    void bounceVcpus() {
        List<KvmVcpu> running;
        synchronized (this) {
            running = List.copyOf(vcpus);
        }
        running.forEach(KvmVcpu::bounce);
    }

    /**
     * A VM ioctl for {@link KvmMonitoring}, under the lifecycle lock so close() cannot pull the descriptor
     * away; false when the VM is closed already.
     */
    boolean ioctlIfOpen(long request, MemorySegment argument, String name) throws EngineException {
        lifecycle.readLock().lock();
        try {
            synchronized (this) {
                if (closed) {
                    return false;
                }
            }
            Libc.ioctl(fd, request, argument);
            return true;
        } catch (NativeException e) {
            throw new EngineException(name + ": " + Libc.strerror(e.errno()), e);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    @Override
    public InterruptLine interruptLine(int gsi) {
        if (gsi < 0 || gsi >= GSI_COUNT) {
            throw new IllegalArgumentException("GSI " + gsi + " out of range 0-" + (GSI_COUNT - 1));
        }
        return new KvmInterruptLine(this, gsi);
    }

    /** KVM_IRQ_LINE; an interrupt line is wiring, so a failure here is a bug and throws unchecked. */
    void setIrqLine(int gsi, boolean asserted) {
        lifecycle.readLock().lock();
        try (Arena arena = Arena.ofConfined()) {
            if (closed) {
                throw new IllegalStateException("GSI " + gsi + " raised on a closed KVM VM");
            }
            MemorySegment level = arena.allocate(KvmIrqLevelLayout.LAYOUT);
            KvmIrqLevelLayout.write(level, gsi, asserted);
            Libc.ioctl(fd, KvmIoctls.KVM_IRQ_LINE, level);
        } catch (NativeException e) {
            throw new IllegalStateException("KVM_IRQ_LINE GSI " + gsi + ": " + Libc.strerror(e.errno()), e);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /**
     * KVM_SIGNAL_MSI. KVM answers 0 when the addressed APIC blocked the message (software-disabled) and
     * fails with EPERM when no APIC has the destination; both are the guest's doing (its MSI-X table), and
     * hardware drops such messages too. Anything else is a bug here and throws unchecked.
     */
    @Override
    public void signalMsi(long address, int data) {
        if (!new MsiMessage(address, data).isInterrupt()) {
            return; // a memory write on hardware; devices do not write guest memory this way
        }
        lifecycle.readLock().lock();
        try (Arena arena = Arena.ofConfined()) {
            if (closed) {
                throw new IllegalStateException("MSI signalled on a closed KVM VM");
            }
            MemorySegment msi = arena.allocate(KvmMsiLayout.LAYOUT);
            KvmMsiLayout.write(msi, address, data);
            Libc.ioctl(fd, KvmIoctls.KVM_SIGNAL_MSI, msi);
        } catch (NativeException e) {
            if (e.errno() != Libc.EPERM) {
                throw new IllegalStateException(String.format("KVM_SIGNAL_MSI 0x%x/0x%x: %s", address, data,
                        Libc.strerror(e.errno())), e);
            }
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** The PICs, the I/O APIC, the PIT and kvmclock (see {@link KvmPlatformSnapshot}). */
    @Override
    public void saveState(StateWriter out) throws EngineException {
        lifecycle.readLock().lock();
        try {
            checkOpen();
            KvmPlatformSnapshot.save(fd, out);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    @Override
    public void restoreState(StateReader in) throws EngineException, SnapshotException {
        lifecycle.readLock().lock();
        try {
            checkOpen();
            KvmPlatformSnapshot.restore(fd, in);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    private void checkOpen() throws EngineException {
        synchronized (this) {
            if (closed) {
                throw new EngineException("the KVM VM is closed");
            }
        }
    }

    private void vmIoctl(long request, long argument, String name) throws EngineException {
        try {
            Libc.ioctl(fd, request, argument);
        } catch (NativeException e) {
            throw new EngineException(name + ": " + Libc.strerror(e.errno()), e);
        }
    }

    /** Closes every vCPU (their threads must have left run()) and the VM. */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
                vcpus.forEach(KvmVcpu::close);
                vcpus.clear();
                Libc.close(fd);
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }
}
