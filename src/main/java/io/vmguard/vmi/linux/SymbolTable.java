package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/** The kernel's symbols: by name, and by address for naming code and data in reports. */
public final class SymbolTable {
    /** Where the x86-64 kernel image is linked; only addresses from here up move with the KASLR slide. */
    static final long KERNEL_IMAGE_START = 0xffff_ffff_8000_0000L;

    private final List<Symbol> all;
    private final Symbol[] located;
    private final Map<String, List<Symbol>> byName = new HashMap<>();
    private final long end;

    public SymbolTable(Collection<Symbol> symbols) {
        List<Symbol> sorted = new ArrayList<>(symbols);
        sorted.sort(Comparator.comparing(Symbol::address, Long::compareUnsigned));
        this.all = List.copyOf(sorted);
        this.located = sorted.stream().filter(s -> !s.perCpu()).toArray(Symbol[]::new);
        for (Symbol symbol : sorted) {
            byName.computeIfAbsent(symbol.name(), name -> new ArrayList<>(1)).add(symbol);
        }
        OptionalLong imageEnd = address("_end");
        this.end = imageEnd.isPresent() ? imageEnd.getAsLong()
                : located.length == 0 ? 0 : located[located.length - 1].address() + 1;
    }

    /** Every symbol, in address order (per-CPU offsets first: they are small numbers). */
    public List<Symbol> symbols() {
        return all;
    }

    public int size() {
        return all.size();
    }

    /** The address of the first symbol called {@code name} (names can repeat: static functions). */
    public OptionalLong address(String name) {
        List<Symbol> matches = byName.get(name);
        return matches == null ? OptionalLong.empty() : OptionalLong.of(matches.getFirst().address());
    }

    public long require(String name) throws VmiException {
        OptionalLong address = address(name);
        if (address.isEmpty()) {
            throw new VmiException("the kernel has no symbol " + name);
        }
        return address.getAsLong();
    }

    public List<Symbol> named(String name) {
        return byName.getOrDefault(name, List.of());
    }

    /** The nearest located (not per-CPU) symbol at or below {@code address}, within the kernel image. */
    public Optional<Symbol> containing(long address) {
        if (located.length == 0 || Long.compareUnsigned(address, located[0].address()) < 0
                || Long.compareUnsigned(address, end) >= 0) {
            return Optional.empty();
        }
        int low = 0;
        int high = located.length - 1;
        while (low < high) {
            int middle = (low + high + 1) >>> 1;
            if (Long.compareUnsigned(located[middle].address(), address) <= 0) {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        return Optional.of(located[low]);
    }

    /** The lowest located symbol address above {@code address}: where the object at {@code address} ends at the latest. */
    public OptionalLong nextAddressAfter(long address) {
        int low = 0;
        int high = located.length;
        while (low < high) {
            int middle = (low + high) >>> 1;
            if (Long.compareUnsigned(located[middle].address(), address) <= 0) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        return low < located.length ? OptionalLong.of(located[low].address()) : OptionalLong.empty();
    }

    /** {@code name+0xoff} for addresses inside the kernel image, else the bare hex address. */
    public String describe(long address) {
        return containing(address)
                .map(s -> address == s.address() ? s.name() : s.name() + "+0x" + Long.toHexString(address - s.address()))
                .orElse("0x" + Long.toHexString(address));
    }

    /** This table moved by a KASLR slide: kernel-image addresses shift, per-CPU offsets and constants do not. */
    public SymbolTable slid(long slide) {
        List<Symbol> moved = new ArrayList<>(all.size());
        for (Symbol s : all) {
            boolean inImage = !s.perCpu() && Long.compareUnsigned(s.address(), KERNEL_IMAGE_START) >= 0;
            moved.add(inImage ? new Symbol(s.name(), s.address() + slide, s.type(), false) : s);
        }
        return new SymbolTable(moved);
    }
}
