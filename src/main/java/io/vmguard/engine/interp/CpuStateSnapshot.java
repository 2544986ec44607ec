package io.vmguard.engine.interp;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.execute.SystemOps;
import io.vmguard.engine.interp.platform.SnapshotFields;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.List;

/**
 * An interpreted CPU's architectural state ({@link CpuState}) in a snapshot. The tree:
 * <pre>
 *   gpr               16 registers in encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8 ... r15
 *   rip, rflags       rflags with the arithmetic flags worked out (nothing lazy is saved)
 *   segments          6 segments in encoding order, each {name: es|cs|ss|ds|fs|gs, selector, base, limit,
 *                     type, present, dpl, db, s, l, g, avl, unusable} (see {@link SegmentSnapshot})
 *   tr, ldt           segments; gdt, idt: {base, limit}
 *   fs_base, gs_base, kernel_gs_base   the 64-bit bases (FS/GS bases live here, not in segments)
 *   cpl
 *   cr0, cr2, cr3, cr4, efer
 *   pdpte             the 4 PAE page-directory-pointer entries (PAE paging outside long mode; absent in
 *                     snapshots from before the interpreter ran other modes: zeros)
 *   debug             DR0-DR7 (indices 4 and 5 unused)
 *   star, lstar, cstar, sfmask, sysenter_cs, sysenter_esp, sysenter_eip, tsc_aux, pat, misc_enable
 *   sse               {xmm: 32 quadwords, low then high of XMM0 ... XMM15; mxcsr}
 *   x87               {control, status (TOP in bits 13:11), tag (full 16-bit tag word),
 *                      significand: 8, sign_exponent: 8, both by physical register: ST(i) is (TOP + i) mod 8}
 *   interrupt_shadow  an STI or MOV SS covers the next instruction
 *   halted            in HLT, waiting for an interrupt
 * </pre>
 * CR8 and IA32_APIC_BASE are the local APIC's, saved with the platform.
 *
 * <p>Reading checks every field against what the interpreter can run and the hardware allows, so a
 * snapshot that would make the interpreter fail later fails here, naming the field: a consistent mode
 * ({@link CpuState#invalidMode}), control registers and EFER without bits the interpreter refuses to set, canonical addresses where the CPU requires them, and registers that fit
 * their width.
 */
final class CpuStateSnapshot {
    private static final List<String> SEGMENT_NAMES = List.of("es", "cs", "ss", "ds", "fs", "gs");
    /** RFLAGS bits that are reserved: always 0, except bit 1, always 1. */
    private static final long RFLAGS_RESERVED = 0xffff_ffff_ffc0_802aL;
    /** CR3 bits 63:52 are reserved (MOV to CR3 raises #GP). */
    private static final long CR3_BITS = 0x000f_ffff_ffff_ffffL;

    private CpuStateSnapshot() {}

    static void save(CpuState cpu, StateWriter out) {
        out.putLongs("gpr", cpu.gpr);
        out.putLong("rip", cpu.rip);
        out.putLong("rflags", cpu.rflags());
        for (int i = 0; i < SEGMENT_NAMES.size(); i++) {
            StateWriter segment = out.append("segments");
            segment.putString("name", SEGMENT_NAMES.get(i));
            SegmentSnapshot.put(segment, cpu.segments[i]);
        }
        SegmentSnapshot.put(out.child("tr"), cpu.tr);
        SegmentSnapshot.put(out.child("ldt"), cpu.ldt);
        SegmentSnapshot.putTable(out.child("gdt"), cpu.gdt);
        SegmentSnapshot.putTable(out.child("idt"), cpu.idt);
        out.putLong("fs_base", cpu.fsBase);
        out.putLong("gs_base", cpu.gsBase);
        out.putLong("kernel_gs_base", cpu.kernelGsBase);
        out.putLong("cpl", cpu.cpl);
        out.putLong("cr0", cpu.cr0);
        out.putLong("cr2", cpu.cr2);
        out.putLong("cr3", cpu.cr3);
        out.putLong("cr4", cpu.cr4);
        out.putLong("efer", cpu.efer);
        out.putLongs("pdpte", cpu.pdpte);
        out.putLongs("debug", cpu.debug);
        out.putLong("star", cpu.star);
        out.putLong("lstar", cpu.lstar);
        out.putLong("cstar", cpu.cstar);
        out.putLong("sfmask", cpu.sfmask);
        out.putLong("sysenter_cs", cpu.sysenterCs);
        out.putLong("sysenter_esp", cpu.sysenterEsp);
        out.putLong("sysenter_eip", cpu.sysenterEip);
        out.putLong("tsc_aux", cpu.tscAux);
        out.putLong("pat", cpu.pat);
        out.putLong("misc_enable", cpu.miscEnable);
        StateWriter sse = out.child("sse");
        sse.putLongs("xmm", cpu.xmm);
        sse.putLong("mxcsr", cpu.mxcsr);
        StateWriter x87 = out.child("x87");
        x87.putLong("control", cpu.fpuControl);
        x87.putLong("status", cpu.fpuStatus);
        x87.putLong("tag", cpu.fpuTag);
        x87.putLongs("significand", cpu.x87Significand);
        x87.putInts("sign_exponent", cpu.x87Exponent);
        out.putBoolean("interrupt_shadow", cpu.interruptShadow);
        out.putBoolean("halted", cpu.halted);
    }

    /** A new CpuState holding what {@link #save} wrote, every field checked. */
    static CpuState read(StateReader in) throws SnapshotException {
        CpuState cpu = new CpuState();
        System.arraycopy(in.getLongs("gpr", 16), 0, cpu.gpr, 0, 16);
        cpu.rip = SnapshotFields.canonical(in, "rip");
        long[] pdpte = in.has("pdpte") ? in.getLongs("pdpte", 4) : new long[4];
        long rflags = in.getLong("rflags");
        if ((rflags & RFLAGS_RESERVED) != Flags.RESERVED_ONE) {
            throw SnapshotFields.invalid(in, "rflags", "0x" + Long.toHexString(rflags)
                    + ": reserved bits must be clear, bit 1 set");
        }
        cpu.setRflags(rflags);
        readSegments(in, cpu);
        cpu.tr = SegmentSnapshot.get(in.child("tr"));
        cpu.ldt = SegmentSnapshot.get(in.child("ldt"));
        cpu.gdt = SegmentSnapshot.getTable(in.child("gdt"));
        cpu.idt = SegmentSnapshot.getTable(in.child("idt"));
        cpu.fsBase = SnapshotFields.canonical(in, "fs_base");
        cpu.gsBase = SnapshotFields.canonical(in, "gs_base");
        cpu.kernelGsBase = SnapshotFields.canonical(in, "kernel_gs_base");
        cpu.cpl = in.getInt("cpl", 0, 3);
        readControlRegisters(in, cpu);
        String invalid = CpuState.invalidMode(cpu.cr0, cpu.cr4, cpu.efer, cpu.segments[CpuState.CS]);
        if (invalid != null) {
            // Named by the register that contradicts the others: CR0.PG, EFER.LMA, or CS's D bit.
            if (invalid.startsWith("a 64-bit")) {
                throw SnapshotFields.invalid(in.list("segments", SEGMENT_NAMES.size()).get(CpuState.CS), "db", invalid);
            }
            throw SnapshotFields.invalid(in, invalid.startsWith("CR0") ? "cr0" : "efer", invalid);
        }
        System.arraycopy(pdpte, 0, cpu.pdpte, 0, 4);
        cpu.updateMode();
        if (cpu.realMode() && cpu.cpl != 0) {
            throw SnapshotFields.invalid(in, "cpl", cpu.cpl + " in real mode, where it is 0");
        }
        System.arraycopy(in.getLongs("debug", 8), 0, cpu.debug, 0, 8);
        cpu.star = in.getLong("star");
        cpu.lstar = SnapshotFields.canonical(in, "lstar");
        cpu.cstar = SnapshotFields.canonical(in, "cstar");
        cpu.sfmask = in.getLong("sfmask", 0, 0xffff_ffffL);
        cpu.sysenterCs = in.getLong("sysenter_cs");
        cpu.sysenterEsp = in.getLong("sysenter_esp");
        cpu.sysenterEip = in.getLong("sysenter_eip");
        cpu.tscAux = in.getLong("tsc_aux", 0, 0xffff_ffffL);
        cpu.pat = in.getLong("pat");
        cpu.miscEnable = in.getLong("misc_enable");
        StateReader sse = in.child("sse");
        System.arraycopy(sse.getLongs("xmm", 32), 0, cpu.xmm, 0, 32);
        cpu.mxcsr = sse.getInt("mxcsr", 0, 0xffff); // FXSAVE's MXCSR_MASK: bits 31:16 are reserved
        readX87(in.child("x87"), cpu);
        cpu.interruptShadow = in.getBoolean("interrupt_shadow");
        cpu.halted = in.getBoolean("halted");
        return cpu;
    }

    private static void readSegments(StateReader in, CpuState cpu) throws SnapshotException {
        List<StateReader> segments = in.list("segments", SEGMENT_NAMES.size());
        if (segments.size() != SEGMENT_NAMES.size()) {
            throw SnapshotFields.invalid(in, "segments", "a list of " + segments.size() + ", expected "
                    + SEGMENT_NAMES.size() + " (" + String.join(", ", SEGMENT_NAMES) + ")");
        }
        for (int i = 0; i < segments.size(); i++) {
            StateReader segment = segments.get(i);
            String name = segment.getString("name");
            if (!name.equals(SEGMENT_NAMES.get(i))) {
                throw SnapshotFields.invalid(segment, "name", "\"" + name + "\", expected \"" + SEGMENT_NAMES.get(i) + "\"");
            }
            cpu.segments[i] = SegmentSnapshot.get(segment);
        }
    }

    /** CR0, CR2, CR3, CR4 and EFER: only bits the guest could have set. */
    private static void readControlRegisters(StateReader in, CpuState cpu) throws SnapshotException {
        cpu.cr0 = SnapshotFields.bits(in, "cr0", 0xffff_ffffL);
        cpu.cr2 = in.getLong("cr2");
        cpu.cr3 = SnapshotFields.bits(in, "cr3", CR3_BITS);
        cpu.cr4 = SnapshotFields.bits(in, "cr4", SystemOps.CR4_SUPPORTED);
        cpu.efer = SnapshotFields.bits(in, "efer", SystemOps.EFER_WRITABLE | SpecialRegisters.EFER_LMA);
    }

    private static void readX87(StateReader in, CpuState cpu) throws SnapshotException {
        cpu.fpuControl = in.getInt("control", 0, 0xffff);
        cpu.fpuStatus = in.getInt("status", 0, 0xffff);
        cpu.fpuTag = in.getInt("tag", 0, 0xffff);
        System.arraycopy(in.getLongs("significand", 8), 0, cpu.x87Significand, 0, 8);
        int[] signExponent = in.getInts("sign_exponent", 8);
        for (int i = 0; i < 8; i++) {
            if (signExponent[i] < 0 || signExponent[i] > 0xffff) {
                throw SnapshotFields.invalid(in, "sign_exponent." + i, signExponent[i] + ", outside 0..65535");
            }
        }
        System.arraycopy(signExponent, 0, cpu.x87Exponent, 0, 8);
    }
}
