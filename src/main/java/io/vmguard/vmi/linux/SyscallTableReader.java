package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * Reads {@code sys_call_table} and kernel function bodies. The table's length is its BTF array length when
 * pahole encoded the variable (only with all variables encoded); otherwise it runs to the next symbol, less
 * the zero padding before that symbol, bounded by {@link #MAX_SYSCALLS}.
 */
final class SyscallTableReader {
    static final int MAX_SYSCALLS = 4096;
    private static final int FUNCTION_MAX = 1 << 20;

    private final KernelContext kernel;

    SyscallTableReader(KernelContext kernel) {
        this.kernel = kernel;
    }

    List<SyscallEntry> entries() throws VmiException {
        long table = kernel.symbols().require("sys_call_table");
        int count = declaredLength().orElse(-1);
        if (count < 0) {
            long end = kernel.symbols().nextAddressAfter(table)
                    .orElseThrow(() -> new VmiException("no symbol follows sys_call_table: its length is unknown"));
            count = (int) Math.min((end - table) / 8, MAX_SYSCALLS);
        }
        byte[] bytes = kernel.memory().readBytes(table, 8 * count);
        while (count > 0 && Bytes.longAt(bytes, 8 * (count - 1)) == 0) {
            count--;
        }
        List<SyscallEntry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long handler = Bytes.longAt(bytes, 8 * i);
            entries.add(new SyscallEntry(i, handler, kernel.symbols().describe(handler)));
        }
        return entries;
    }

    /** The table's array length from BTF, when pahole encoded the variable (it does for per-CPU ones only by default). */
    private OptionalInt declaredLength() throws VmiException {
        if (kernel.types() == null) {
            return OptionalInt.empty();
        }
        var variable = kernel.types().btf().find("sys_call_table", BtfType.Var.class);
        if (variable.isPresent() && kernel.types().btf().resolve(variable.get().type()) instanceof BtfType.Array array
                && array.length() > 0 && array.length() <= MAX_SYSCALLS) {
            return OptionalInt.of(array.length());
        }
        return OptionalInt.empty();
    }

    /** The code of function {@code name}: from its address to the next symbol's. */
    FunctionCode function(String name) throws VmiException {
        long address = kernel.symbols().require(name);
        long end = kernel.symbols().nextAddressAfter(address)
                .orElseThrow(() -> new VmiException("no symbol follows " + name + ": its size is unknown"));
        long size = end - address;
        if (size <= 0 || size > FUNCTION_MAX) {
            throw new VmiException(String.format("%s would be %d bytes long", name, size), address);
        }
        return new FunctionCode(name, address, kernel.memory().readBytes(address, (int) size));
    }
}
