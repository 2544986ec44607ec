package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.vmguard.engine.SpecialRegisters;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_sregs (asm/kvm.h): segments, descriptor tables, control registers, EFER, the APIC base and
 * a bitmap of pending external interrupts.
 */
final class KvmSregsLayout {
    /** KVM_NR_INTERRUPTS (256) bits, rounded up to __u64 words. */
    private static final int INTERRUPT_BITMAP_WORDS = (256 + 63) / 64;

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            KvmSegmentLayout.LAYOUT.withName("cs"),
            KvmSegmentLayout.LAYOUT.withName("ds"),
            KvmSegmentLayout.LAYOUT.withName("es"),
            KvmSegmentLayout.LAYOUT.withName("fs"),
            KvmSegmentLayout.LAYOUT.withName("gs"),
            KvmSegmentLayout.LAYOUT.withName("ss"),
            KvmSegmentLayout.LAYOUT.withName("tr"),
            KvmSegmentLayout.LAYOUT.withName("ldt"),
            KvmDtableLayout.LAYOUT.withName("gdt"),
            KvmDtableLayout.LAYOUT.withName("idt"),
            JAVA_LONG.withName("cr0"),
            JAVA_LONG.withName("cr2"),
            JAVA_LONG.withName("cr3"),
            JAVA_LONG.withName("cr4"),
            JAVA_LONG.withName("cr8"),
            JAVA_LONG.withName("efer"),
            JAVA_LONG.withName("apic_base"),
            MemoryLayout.sequenceLayout(INTERRUPT_BITMAP_WORDS, JAVA_LONG).withName("interrupt_bitmap"))
            .withName("kvm_sregs");

    private static final long CR0 = offset("cr0");
    private static final long CR2 = offset("cr2");
    private static final long CR3 = offset("cr3");
    private static final long CR4 = offset("cr4");
    private static final long CR8 = offset("cr8");
    private static final long EFER = offset("efer");
    private static final long APIC_BASE = offset("apic_base");
    private static final long INTERRUPT_BITMAP = offset("interrupt_bitmap");

    private KvmSregsLayout() {}

    static SpecialRegisters read(MemorySegment sregs) {
        return new SpecialRegisters(
                KvmSegmentLayout.read(field(sregs, "cs")),
                KvmSegmentLayout.read(field(sregs, "ds")),
                KvmSegmentLayout.read(field(sregs, "es")),
                KvmSegmentLayout.read(field(sregs, "fs")),
                KvmSegmentLayout.read(field(sregs, "gs")),
                KvmSegmentLayout.read(field(sregs, "ss")),
                KvmSegmentLayout.read(field(sregs, "tr")),
                KvmSegmentLayout.read(field(sregs, "ldt")),
                KvmDtableLayout.read(field(sregs, "gdt")),
                KvmDtableLayout.read(field(sregs, "idt")),
                sregs.get(JAVA_LONG, CR0),
                sregs.get(JAVA_LONG, CR2),
                sregs.get(JAVA_LONG, CR3),
                sregs.get(JAVA_LONG, CR4),
                sregs.get(JAVA_LONG, CR8),
                sregs.get(JAVA_LONG, EFER),
                sregs.get(JAVA_LONG, APIC_BASE));
    }

    /**
     * Fills {@code sregs} from {@code r}. The interrupt bitmap is zeroed: a set bit would make KVM queue
     * that vector as a pending external interrupt, which a register write must never do.
     */
    static void write(MemorySegment sregs, SpecialRegisters r) {
        KvmSegmentLayout.write(field(sregs, "cs"), r.cs());
        KvmSegmentLayout.write(field(sregs, "ds"), r.ds());
        KvmSegmentLayout.write(field(sregs, "es"), r.es());
        KvmSegmentLayout.write(field(sregs, "fs"), r.fs());
        KvmSegmentLayout.write(field(sregs, "gs"), r.gs());
        KvmSegmentLayout.write(field(sregs, "ss"), r.ss());
        KvmSegmentLayout.write(field(sregs, "tr"), r.tr());
        KvmSegmentLayout.write(field(sregs, "ldt"), r.ldt());
        KvmDtableLayout.write(field(sregs, "gdt"), r.gdt());
        KvmDtableLayout.write(field(sregs, "idt"), r.idt());
        sregs.set(JAVA_LONG, CR0, r.cr0());
        sregs.set(JAVA_LONG, CR2, r.cr2());
        sregs.set(JAVA_LONG, CR3, r.cr3());
        sregs.set(JAVA_LONG, CR4, r.cr4());
        sregs.set(JAVA_LONG, CR8, r.cr8());
        sregs.set(JAVA_LONG, EFER, r.efer());
        sregs.set(JAVA_LONG, APIC_BASE, r.apicBase());
        sregs.asSlice(INTERRUPT_BITMAP, INTERRUPT_BITMAP_WORDS * Long.BYTES).fill((byte) 0);
    }

    private static MemorySegment field(MemorySegment sregs, String name) {
        MemoryLayout layout = LAYOUT.select(groupElement(name));
        return sregs.asSlice(offset(name), layout.byteSize());
    }

    private static long offset(String name) {
        return LAYOUT.byteOffset(groupElement(name));
    }
}
