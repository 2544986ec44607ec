package io.vmguard.engine.kvm;

import io.vmguard.engine.EngineException;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * An open /dev/kvm, checked to speak API version 12 with every capability vmguard needs. Each failure
 * is one line saying what to do about it.
 */
final class KvmSystem implements AutoCloseable {
    /** The only KVM API version there has ever been since Linux 2.6.22; anything else is not KVM as we know it. */
    static final int API_VERSION = 12;

    /** More than any CPU reports today (KVM returns E2BIG if not enough, and we grow). */
    private static final int INITIAL_CPUID_ENTRIES = 128;
    private static final int MAX_CPUID_ENTRIES = 4096;
    private static final int INITIAL_MSR_INDICES = 256;
    private static final int MAX_MSR_INDICES = 65536;

    private final Path device;
    private final int fd;
    private boolean closed;

    private KvmSystem(Path device, int fd) {
        this.device = device;
        this.fd = fd;
    }

    static KvmSystem open(Path device) throws EngineException {
        int fd;
        try {
            fd = Libc.open(device.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (NativeException e) {
            throw new EngineException(switch (e.errno()) {
                case Libc.ENOENT -> device + " not found: this host has no KVM (use --engine interp)";
                case Libc.EACCES, Libc.EPERM -> device + ": permission denied (add your user to group kvm)";
                case Libc.ENXIO, Libc.ENODEV -> device + ": no KVM driver behind it (load kvm_intel or kvm_amd, or use --engine interp)";
                default -> device + ": cannot open: " + Libc.strerror(e.errno());
            }, e);
        }
        KvmSystem system = new KvmSystem(device, fd);
        try {
            system.check();
        } catch (EngineException e) {
            system.close();
            throw e;
        }
        return system;
    }

    private void check() throws EngineException {
        int version;
        try {
            version = Libc.ioctl(fd, KvmIoctls.KVM_GET_API_VERSION, 0);
        } catch (NativeException e) {
            throw new EngineException(device + " is not a KVM device (KVM_GET_API_VERSION: " + Libc.strerror(e.errno()) + ")", e);
        }
        if (version != API_VERSION) {
            throw new EngineException("KVM API version " + version + " unsupported");
        }
        for (KvmCapability capability : KvmCapability.values()) {
            if (capability.required() && extension(capability) <= 0) {
                throw new EngineException("KVM lacks capability " + capability.name());
            }
        }
    }

    /** KVM_CHECK_EXTENSION: 0 when absent, else a positive value (sometimes a count). */
    int extension(KvmCapability capability) throws EngineException {
        try {
            return Libc.ioctl(fd, KvmIoctls.KVM_CHECK_EXTENSION, capability.number());
        } catch (NativeException e) {
            throw new EngineException("KVM_CHECK_EXTENSION " + capability.name() + ": " + Libc.strerror(e.errno()), e);
        }
    }

    /** The size of the per-vCPU mapping: kvm_run plus the pages behind it (the PIO data area). */
    int vcpuMmapSize() throws EngineException {
        try {
            int size = Libc.ioctl(fd, KvmIoctls.KVM_GET_VCPU_MMAP_SIZE, 0);
            if (size < KvmRunLayout.LAYOUT.byteSize()) {
                throw new EngineException("KVM reports a vCPU mapping of " + size + " bytes, smaller than struct kvm_run");
            }
            return size;
        } catch (NativeException e) {
            throw new EngineException("KVM_GET_VCPU_MMAP_SIZE: " + Libc.strerror(e.errno()), e);
        }
    }

    /** Every CPUID leaf KVM can virtualize on this host, its paravirtual leaves (0x40000000+) included. */
    List<CpuidEntry> supportedCpuid() throws EngineException {
        for (int capacity = INITIAL_CPUID_ENTRIES; capacity <= MAX_CPUID_ENTRIES; capacity *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment cpuid = KvmCpuid2Layout.allocate(arena, capacity);
                try {
                    Libc.ioctl(fd, KvmIoctls.KVM_GET_SUPPORTED_CPUID, cpuid);
                    return KvmCpuid2Layout.read(cpuid);
                } catch (NativeException e) {
                    if (e.errno() != Libc.E2BIG) {
                        throw new EngineException("KVM_GET_SUPPORTED_CPUID: " + Libc.strerror(e.errno()), e);
                    }
                }
            }
        }
        throw new EngineException("KVM_GET_SUPPORTED_CPUID: more than " + MAX_CPUID_ENTRIES + " entries");
    }

    /**
     * The MSRs KVM saves and restores for userspace on this host (KVM_GET_MSR_INDEX_LIST): the
     * architectural ones the host CPU has, and KVM's emulated ones. KVM may answer a read of another MSR
     * and then refuse to write the same value back, so a snapshot keeps only these.
     */
    Set<Integer> msrIndexList() throws EngineException {
        int capacity = INITIAL_MSR_INDICES;
        while (true) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment list = KvmMsrListLayout.allocate(arena, capacity);
                try {
                    Libc.ioctl(fd, KvmIoctls.KVM_GET_MSR_INDEX_LIST, list);
                    Set<Integer> indices = new HashSet<>();
                    for (int index : KvmMsrListLayout.indices(list)) {
                        indices.add(index);
                    }
                    return indices;
                } catch (NativeException e) {
                    int needed = KvmMsrListLayout.count(list);
                    if (e.errno() != Libc.E2BIG || needed <= capacity || needed > MAX_MSR_INDICES) {
                        throw new EngineException("KVM_GET_MSR_INDEX_LIST: " + Libc.strerror(e.errno()), e);
                    }
                    capacity = needed;
                }
            }
        }
    }

    /** KVM_CREATE_VM (machine type 0, the default); returns the VM's descriptor. */
    int createVm() throws EngineException {
        try {
            return Libc.ioctl(fd, KvmIoctls.KVM_CREATE_VM, 0);
        } catch (NativeException e) {
            throw new EngineException("KVM_CREATE_VM: " + Libc.strerror(e.errno()), e);
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }
}
