package io.vmguard.vmi.integrity;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one integrity pass reads from a Linux guest, at one consistent moment. Page hashes are keyed by
 * guest-physical frame number (address >>> 12).
 *
 * @param vcpus            per vCPU: control registers, syscall-entry MSRs, descriptor tables
 * @param syscallTable     sys_call_table's entries
 * @param syscallDispatch  the code of x64_sys_call (6.x dispatches through it, not the table)
 * @param textPages        SHA-256 of each kernel text frame
 * @param rodataPages      SHA-256 of each read-only data frame (sys_call_table lives there)
 * @param modules          modules on the kernel's module list
 * @param moduleKobjects   modules that have a kobject under /sys/module (module_kset): a module unlinked from
 *                         the list keeps its kobject
 * @param tasks            processes on the task list (init_task.tasks), by PID
 * @param pidTable         PIDs in the PID table (init_pid_ns's idr), which /proc and kill use
 * @param runningTasks     PIDs each vCPU is running now (per-CPU current task)
 */
public record KernelFacts(List<VcpuFacts> vcpus, long[] syscallTable, byte[] syscallDispatch,
                          Map<Long, PageHash> textPages, Map<Long, PageHash> rodataPages,
                          Map<String, ModuleFact> modules, Set<String> moduleKobjects,
                          Map<Integer, TaskFact> tasks, Set<Integer> pidTable, Map<Integer, Integer> runningTasks) {

    /** A vCPU's security-relevant registers and its descriptor tables as it sees them. */
    public record VcpuFacts(int index, long cr0, long cr4, long efer, Map<Integer, Long> syscallMsrs,
                            long gdtBase, int gdtLimit, byte[] gdt, long idtBase, int idtLimit, List<Gate> idt) {}

    /** An IDT gate, decoded. */
    public record Gate(int vector, long target, int selector, int type, int dpl, int ist, boolean present) {}

    public record ModuleFact(String name, long base, long size) {}

    public record TaskFact(int pid, String name, int parent, long address) {}

    /** A SHA-256, compared by value. */
    public record PageHash(long high, long midHigh, long midLow, long low) {
        public static PageHash of(byte[] sha256) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(sha256);
            return new PageHash(b.getLong(), b.getLong(), b.getLong(), b.getLong());
        }
    }
}
