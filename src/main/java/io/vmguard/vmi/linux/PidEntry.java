package io.vmguard.vmi.linux;

/**
 * One number in the initial PID namespace's IDR, the table /proc and kill(2) look PIDs up in.
 *
 * @param pid  the struct pid
 * @param task the task attached as PIDTYPE_PID, 0 when none is (a PID kept by a process group or session alone)
 */
public record PidEntry(int nr, long pid, long task) {
    public boolean hasTask() {
        return task != 0;
    }
}
