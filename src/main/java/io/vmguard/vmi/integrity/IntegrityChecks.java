package io.vmguard.vmi.integrity;

import static io.vmguard.vmi.integrity.AddressNames.hex;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.integrity.KernelFacts.Gate;
import io.vmguard.vmi.integrity.KernelFacts.PageHash;
import io.vmguard.vmi.integrity.KernelFacts.VcpuFacts;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compares a pass's {@link KernelFacts} with the baseline's. Every check reports what changed, old and new,
 * with the kernel's names for the addresses involved.
 */
public final class IntegrityChecks {
    /** CR4.SMEP and CR4.SMAP: clearing them lets the kernel run or read user pages an exploit prepared. */
    static final long CR4_SMEP = 1L << 20, CR4_SMAP = 1L << 21;

    private final AddressNames names;

    public IntegrityChecks(AddressNames names) {
        this.names = names;
    }

    public List<Finding> compare(KernelFacts baseline, KernelFacts now) {
        List<Finding> findings = new ArrayList<>();
        syscallTable(baseline, now, findings);
        syscallDispatch(baseline, now, findings);
        for (VcpuFacts cpu : now.vcpus()) {
            VcpuFacts base = baseline.vcpus().stream().filter(b -> b.index() == cpu.index()).findFirst().orElse(null);
            if (base != null) {
                vcpu(base, cpu, findings);
            }
        }
        pages("kernel-text", baseline.textPages(), now.textPages(), findings);
        pages("kernel-rodata", baseline.rodataPages(), now.rodataPages(), findings);
        hiddenModules(now, findings);
        hiddenProcesses(now, findings);
        return findings;
    }

    private void syscallTable(KernelFacts baseline, KernelFacts now, List<Finding> findings) {
        long[] old = baseline.syscallTable();
        long[] current = now.syscallTable();
        for (int i = 0; i < Math.min(old.length, current.length); i++) {
            if (old[i] != current[i]) {
                findings.add(new Finding("syscall-table", "entry " + i,
                        "sys_call_table[" + i + "] changed from " + names.nameOf(old[i]) + " to " + names.nameOf(current[i]),
                        details("entry", i, "old", hex(old[i]), "new", hex(current[i]),
                                "old_symbol", names.nameOf(old[i]), "new_symbol", names.nameOf(current[i]))));
            }
        }
    }

    private void syscallDispatch(KernelFacts baseline, KernelFacts now, List<Finding> findings) {
        byte[] old = baseline.syscallDispatch();
        byte[] current = now.syscallDispatch();
        int at = Arrays.mismatch(old, current);
        if (at >= 0) {
            int end = Math.min(Math.min(old.length, current.length), at + 8);
            findings.add(new Finding("syscall-dispatch", "x64_sys_call",
                    "x64_sys_call's code changed at offset " + hex(at),
                    details("offset", hex(at), "old_bytes", bytes(old, at, end), "new_bytes", bytes(current, at, end))));
        }
    }

    private void vcpu(VcpuFacts base, VcpuFacts cpu, List<Finding> findings) {
        String who = "vcpu" + cpu.index();
        if ((base.cr0() & SpecialRegisters.CR0_WP) != 0 && (cpu.cr0() & SpecialRegisters.CR0_WP) == 0) {
            findings.add(new Finding("cr0-wp", who, who + ": CR0.WP cleared (the kernel can write read-only pages)",
                    details("vcpu", cpu.index(), "old", hex(base.cr0()), "new", hex(cpu.cr0()))));
        }
        long pinned = CR4_SMEP | CR4_SMAP;
        if ((base.cr4() & pinned & ~cpu.cr4()) != 0) {
            findings.add(new Finding("cr4-smep-smap", who, who + ": CR4.SMEP/SMAP cleared",
                    details("vcpu", cpu.index(), "old", hex(base.cr4()), "new", hex(cpu.cr4()))));
        }
        for (var entry : base.syscallMsrs().entrySet()) {
            Long current = cpu.syscallMsrs().get(entry.getKey());
            if (current != null && !current.equals(entry.getValue())) {
                String msr = Msr.name(entry.getKey());
                findings.add(new Finding("msr", who + " " + msr, who + ": " + msr + " changed from "
                        + names.nameOf(entry.getValue()) + " to " + names.nameOf(current),
                        details("vcpu", cpu.index(), "msr", msr, "old", hex(entry.getValue()), "new", hex(current),
                                "old_symbol", names.nameOf(entry.getValue()), "new_symbol", names.nameOf(current))));
            }
        }
        if (base.gdtBase() != cpu.gdtBase() || base.gdtLimit() != cpu.gdtLimit()) {
            findings.add(new Finding("gdtr", who, who + ": GDTR moved from " + hex(base.gdtBase()) + " to " + hex(cpu.gdtBase()),
                    details("vcpu", cpu.index(), "old_base", hex(base.gdtBase()), "new_base", hex(cpu.gdtBase()),
                            "old_limit", base.gdtLimit(), "new_limit", cpu.gdtLimit())));
        } else {
            int at = firstGdtChange(base.gdt(), cpu.gdt());
            if (at >= 0) {
                findings.add(new Finding("gdt", who, who + ": GDT descriptor " + (at / 8) + " changed",
                        details("vcpu", cpu.index(), "descriptor", at / 8, "old", bytes(base.gdt(), at & ~7, (at & ~7) + 8),
                                "new", bytes(cpu.gdt(), at & ~7, (at & ~7) + 8))));
            }
        }
        if (base.idtBase() != cpu.idtBase() || base.idtLimit() != cpu.idtLimit()) {
            findings.add(new Finding("idtr", who, who + ": IDTR moved from " + hex(base.idtBase()) + " to " + hex(cpu.idtBase()),
                    details("vcpu", cpu.index(), "old_base", hex(base.idtBase()), "new_base", hex(cpu.idtBase()),
                            "old_limit", base.idtLimit(), "new_limit", cpu.idtLimit())));
        }
        Map<Integer, Gate> before = new LinkedHashMap<>();
        base.idt().forEach(g -> before.put(g.vector(), g));
        for (Gate gate : cpu.idt()) {
            Gate old = before.get(gate.vector());
            if (old != null && !old.equals(gate)) {
                findings.add(new Finding("idt", who + " vector " + gate.vector(), who + ": IDT vector " + gate.vector()
                        + " now goes to " + names.nameOf(gate.target()) + " (was " + names.nameOf(old.target()) + ")",
                        details("vcpu", cpu.index(), "vector", gate.vector(), "old", hex(old.target()), "new", hex(gate.target()),
                                "old_symbol", names.nameOf(old.target()), "new_symbol", names.nameOf(gate.target()),
                                "old_gate", describe(old), "new_gate", describe(gate))));
            }
        }
    }

    /** Linux x86-64's thread-local-storage descriptors (GDT_ENTRY_TLS_MIN..MAX): rewritten for each task that uses them. */
    static final int TLS_FIRST = 12, TLS_LAST = 14;

    /**
     * The first byte of a GDT change the kernel would not make itself, or -1. Legitimate changes: the TLS
     * descriptors (per task) and the TSS descriptor's busy bit (set by LTR: bit 1 of the type, byte 5 of a
     * system descriptor whose type is an available/busy 64-bit TSS).
     */
    static int firstGdtChange(byte[] before, byte[] after) {
        if (before.length != after.length) {
            return Math.min(before.length, after.length);
        }
        for (int i = 0; i < before.length; i++) {
            int descriptor = i / 8;
            int diff = (before[i] ^ after[i]) & 0xff;
            if (diff == 0 || (descriptor >= TLS_FIRST && descriptor <= TLS_LAST)) {
                continue;
            }
            boolean tssBusyBit = i % 8 == 5 && diff == 0x02 && (before[i] & 0x1d) == 0x09;
            if (!tssBusyBit) {
                return i;
            }
        }
        return -1;
    }

    private void pages(String check, Map<Long, PageHash> baseline, Map<Long, PageHash> now, List<Finding> findings) {
        for (var entry : now.entrySet()) {
            PageHash old = baseline.get(entry.getKey());
            if (old != null && !old.equals(entry.getValue())) {
                long address = entry.getKey() << 12;
                findings.add(new Finding(check, "frame " + hex(address), check + " page at guest-physical "
                        + hex(address) + " changed", details("physical_address", hex(address))));
            }
        }
    }

    private static void hiddenModules(KernelFacts now, List<Finding> findings) {
        for (String name : now.moduleKobjects()) {
            if (!now.modules().containsKey(name)) {
                findings.add(new Finding("hidden-module", name, "module " + name
                        + " has a kobject in /sys/module but is missing from the module list",
                        details("module", name)));
            }
        }
    }

    private static void hiddenProcesses(KernelFacts now, List<Finding> findings) {
        for (int pid : now.pidTable()) {
            if (!now.tasks().containsKey(pid)) {
                findings.add(new Finding("hidden-process", "pid " + pid, "PID " + pid
                        + " is in the PID table but missing from the task list", details("pid", pid, "seen_in", "pid-table")));
            }
        }
        for (var running : now.runningTasks().entrySet()) {
            int pid = running.getValue();
            if (pid != 0 && !now.tasks().containsKey(pid) && !now.pidTable().contains(pid)) {
                findings.add(new Finding("hidden-process", "pid " + pid, "PID " + pid + " runs on vcpu"
                        + running.getKey() + " but is missing from the task list",
                        details("pid", pid, "seen_in", "vcpu" + running.getKey())));
            }
        }
    }

    static String describe(Gate gate) {
        return String.format("target=%#x selector=%#x type=%d dpl=%d ist=%d present=%b", gate.target(), gate.selector(),
                gate.type(), gate.dpl(), gate.ist(), gate.present());
    }

    static String bytes(byte[] data, int from, int to) {
        StringBuilder text = new StringBuilder();
        for (int i = from; i < Math.min(to, data.length); i++) {
            text.append(String.format("%02x", data[i] & 0xff));
        }
        return text.toString();
    }

    /** Ordered details, key then value. */
    static Map<String, Object> details(Object... keysAndValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }
}
