package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;

/** Checks on pointers read from kernel data structures before they are followed. */
final class GuestPointers {
    /** Bound on every list, tree and table walk: a guest can make any of them as long as it likes. */
    static final int WALK_LIMIT = 65536;

    private GuestPointers() {}

    /** Kernel objects live in the upper half of the address space (sign bit set on x86-64). */
    static long kernel(long pointer, String what) throws VmiException {
        if (pointer >= 0) {
            throw new VmiException(String.format("%s %#x is not a kernel address", what, pointer), pointer);
        }
        return pointer;
    }
}
