package io.vmguard.testing;

import java.util.Map;

/** An assembled test payload: flat code linked to run at {@code origin}, and its symbols' addresses. */
public record Payload(String name, long origin, byte[] code, Map<String, Long> symbols) {
    public long symbol(String symbol) {
        Long address = symbols.get(symbol);
        if (address == null) {
            throw new IllegalArgumentException("payload " + name + " has no symbol " + symbol + " (is it .globl?)");
        }
        return address;
    }
}
