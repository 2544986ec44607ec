package io.vmguard.vmi.linux;

import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;

/** What every reader of kernel structures needs for one pass: the kernel address space, layouts, symbols. */
record KernelContext(VirtualMemory memory, KernelTypes types, SymbolTable symbols) {
    long offset(String struct, String path) throws VmiException {
        return types.offsetOf(struct, path);
    }

    /** Reads the pointer member {@code path} of the {@code struct} at {@code object}. */
    long pointer(long object, String struct, String path) throws VmiException {
        return memory.readLong(object + types.offsetOf(struct, path));
    }
}
