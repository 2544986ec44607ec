package io.vmguard.engine.kvm;

/**
 * The KVM ioctl request numbers, built the way linux/kvm.h builds them (_IO, _IOR, _IOW, _IOWR over the
 * KVMIO type 0xAE) with the argument sizes taken from our own struct layouts, so a layout and its ioctl
 * cannot disagree. A unit test compares every number with the C headers.
 */
final class KvmIoctls {
    private static final int KVMIO = 0xAE;

    // asm-generic/ioctl.h: nr in bits 0-7, type in 8-15, size in 16-29, direction in 30-31.
    private static final int NR_SHIFT = 0;
    private static final int TYPE_SHIFT = 8;
    private static final int SIZE_SHIFT = 16;
    private static final int DIR_SHIFT = 30;
    private static final long SIZE_MASK = (1 << 14) - 1;
    private static final long DIR_NONE = 0;
    private static final long DIR_WRITE = 1;
    private static final long DIR_READ = 2;

    // System ioctls, on the /dev/kvm descriptor.
    static final long KVM_GET_API_VERSION = io(0x00);
    static final long KVM_CREATE_VM = io(0x01);
    static final long KVM_GET_MSR_INDEX_LIST = iowr(0x02, KvmMsrListLayout.LAYOUT.byteSize());
    static final long KVM_CHECK_EXTENSION = io(0x03);
    static final long KVM_GET_VCPU_MMAP_SIZE = io(0x04);
    static final long KVM_GET_SUPPORTED_CPUID = iowr(0x05, KvmCpuid2Layout.LAYOUT.byteSize());

    // VM ioctls.
    static final long KVM_CREATE_VCPU = io(0x41);
    static final long KVM_SET_USER_MEMORY_REGION = iow(0x46, KvmUserspaceMemoryRegionLayout.LAYOUT.byteSize());
    static final long KVM_SET_TSS_ADDR = io(0x47);
    /** The argument is a pointer to a __u64. */
    static final long KVM_SET_IDENTITY_MAP_ADDR = iow(0x48, Long.BYTES);
    static final long KVM_CREATE_IRQCHIP = io(0x60);
    static final long KVM_IRQ_LINE = iow(0x61, KvmIrqLevelLayout.LAYOUT.byteSize());
    static final long KVM_CREATE_PIT2 = iow(0x77, KvmPitConfigLayout.LAYOUT.byteSize());
    static final long KVM_SIGNAL_MSI = iow(0xa5, KvmMsiLayout.LAYOUT.byteSize());
    static final long KVM_GET_IRQCHIP = iowr(0x62, KvmIrqchipLayout.LAYOUT.byteSize());
    /** _IOR although the kernel reads the argument: a historical mistake linux/kvm.h keeps for the ABI. */
    static final long KVM_SET_IRQCHIP = ior(0x63, KvmIrqchipLayout.LAYOUT.byteSize());
    static final long KVM_SET_CLOCK = iow(0x7b, KvmClockDataLayout.LAYOUT.byteSize());
    static final long KVM_GET_CLOCK = ior(0x7c, KvmClockDataLayout.LAYOUT.byteSize());
    static final long KVM_GET_PIT2 = ior(0x9f, KvmPitState2Layout.LAYOUT.byteSize());
    static final long KVM_SET_PIT2 = iow(0xa0, KvmPitState2Layout.LAYOUT.byteSize());
    /** On the VM descriptor here (KVM_CAP_ENABLE_CAP_VM); the same number serves vCPU capabilities. */
    static final long KVM_ENABLE_CAP = iow(0xa3, KvmEnableCapLayout.LAYOUT.byteSize());
    static final long KVM_X86_SET_MSR_FILTER = iow(0xc6, KvmMsrFilterLayout.LAYOUT.byteSize());

    // vCPU ioctls.
    static final long KVM_RUN = io(0x80);
    static final long KVM_GET_REGS = ior(0x81, KvmRegsLayout.LAYOUT.byteSize());
    static final long KVM_SET_REGS = iow(0x82, KvmRegsLayout.LAYOUT.byteSize());
    static final long KVM_GET_SREGS = ior(0x83, KvmSregsLayout.LAYOUT.byteSize());
    static final long KVM_SET_SREGS = iow(0x84, KvmSregsLayout.LAYOUT.byteSize());
    static final long KVM_GET_MSRS = iowr(0x88, KvmMsrsLayout.LAYOUT.byteSize());
    static final long KVM_SET_MSRS = iow(0x89, KvmMsrsLayout.LAYOUT.byteSize());
    static final long KVM_GET_FPU = ior(0x8c, KvmFpuLayout.LAYOUT.byteSize());
    static final long KVM_SET_FPU = iow(0x8d, KvmFpuLayout.LAYOUT.byteSize());
    static final long KVM_SET_CPUID2 = iow(0x90, KvmCpuid2Layout.LAYOUT.byteSize());
    static final long KVM_GET_LAPIC = ior(0x8e, KvmLapicStateLayout.LAYOUT.byteSize());
    static final long KVM_SET_LAPIC = iow(0x8f, KvmLapicStateLayout.LAYOUT.byteSize());
    static final long KVM_GET_MP_STATE = ior(0x98, KvmMpStateLayout.LAYOUT.byteSize());
    static final long KVM_SET_MP_STATE = iow(0x99, KvmMpStateLayout.LAYOUT.byteSize());
    static final long KVM_GET_VCPU_EVENTS = ior(0x9f, KvmVcpuEventsLayout.LAYOUT.byteSize());
    static final long KVM_SET_VCPU_EVENTS = iow(0xa0, KvmVcpuEventsLayout.LAYOUT.byteSize());
    static final long KVM_GET_DEBUGREGS = ior(0xa1, KvmDebugregsLayout.LAYOUT.byteSize());
    static final long KVM_SET_DEBUGREGS = iow(0xa2, KvmDebugregsLayout.LAYOUT.byteSize());
    static final long KVM_GET_XSAVE = ior(0xa4, KvmXsaveLayout.LAYOUT.byteSize());
    /** Takes as many bytes as KVM_GET_XSAVE2 wrote, although the number names only the 4 KiB struct. */
    static final long KVM_SET_XSAVE = iow(0xa5, KvmXsaveLayout.LAYOUT.byteSize());
    static final long KVM_GET_XCRS = ior(0xa6, KvmXcrsLayout.LAYOUT.byteSize());
    static final long KVM_SET_XCRS = iow(0xa7, KvmXcrsLayout.LAYOUT.byteSize());
    /** Writes KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes, which may be more than the 4 KiB in its number. */
    static final long KVM_GET_XSAVE2 = ior(0xcf, KvmXsaveLayout.LAYOUT.byteSize());

    private KvmIoctls() {}

    static long io(int nr) {
        return ioc(DIR_NONE, nr, 0);
    }

    /** The kernel writes the argument ("read" from userspace's point of view). */
    static long ior(int nr, long size) {
        return ioc(DIR_READ, nr, size);
    }

    /** The kernel reads the argument. */
    static long iow(int nr, long size) {
        return ioc(DIR_WRITE, nr, size);
    }

    static long iowr(int nr, long size) {
        return ioc(DIR_READ | DIR_WRITE, nr, size);
    }

    private static long ioc(long direction, int nr, long size) {
        if (size < 0 || size > SIZE_MASK) {
            throw new IllegalArgumentException("ioctl argument size " + size + " does not fit in 14 bits");
        }
        return (direction << DIR_SHIFT) | (size << SIZE_SHIFT) | ((long) KVMIO << TYPE_SHIFT) | ((long) nr << NR_SHIFT);
    }
}
