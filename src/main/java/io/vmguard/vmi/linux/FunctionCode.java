package io.vmguard.vmi.linux;

import java.util.Arrays;
import java.util.HexFormat;

/** The machine code of one kernel function, from its symbol to the next symbol's address. */
public record FunctionCode(String name, long address, byte[] code) {
    public FunctionCode {
        code = code.clone();
    }

    @Override
    public byte[] code() {
        return code.clone();
    }

    public int size() {
        return code.length;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof FunctionCode f && f.name.equals(name) && f.address == address && Arrays.equals(f.code, code);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Long.hashCode(address) * 17 + Arrays.hashCode(code);
    }

    @Override
    public String toString() {
        String head = HexFormat.of().formatHex(code, 0, Math.min(16, code.length));
        return String.format("%s at %#x, %d bytes: %s%s", name, address, code.length, head, code.length > 16 ? "..." : "");
    }
}
