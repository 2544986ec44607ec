package io.vmguard.vmm;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;

/**
 * What a vmguard process does for its guest's secrets before a VM runs: it makes itself not dumpable
 * (prctl PR_SET_DUMPABLE 0): no core dump of it is written by the kernel, and processes of the same user can no
 * longer ptrace it or open its /proc/PID/mem (root still can, unless guest RAM is secret memory). Guest RAM is
 * also marked MADV_DONTDUMP where it is mapped, for dumps taken another way (gcore, a changed dumpable flag).
 */
public final class HostHardening {
    private HostHardening() {}

    /** Makes this process not dumpable; one line on failure. */
    public static void apply() throws VmException {
        try {
            Libc.prctl(Libc.PR_SET_DUMPABLE, 0);
        } catch (NativeException e) {
            throw new VmException("cannot make vmguard non-dumpable: " + e.getMessage(), e);
        }
    }

    /** Whether this process is dumpable (tests). */
    static boolean dumpable() throws NativeException {
        return Libc.prctl(Libc.PR_GET_DUMPABLE, 0) != 0;
    }
}
