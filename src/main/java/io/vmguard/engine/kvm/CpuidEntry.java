package io.vmguard.engine.kvm;

/** One CPUID leaf/subleaf as KVM describes it (struct kvm_cpuid_entry2 without its padding). */
record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    CpuidEntry withEbx(int value) {
        return new CpuidEntry(function, index, flags, eax, value, ecx, edx);
    }

    CpuidEntry withEdx(int value) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, value);
    }
}
