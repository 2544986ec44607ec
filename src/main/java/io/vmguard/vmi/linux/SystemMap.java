package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code System.map} from the kernel build: an optional shortcut to the symbols, at link-time addresses
 * ({@link SymbolTable#slid} moves them by the KASLR slide). Addresses in the lower half of the address
 * space are per-CPU offsets or constants: an x86-64 kernel image always lives in the upper half.
 */
public final class SystemMap {
    private SystemMap() {}

    public static SymbolTable read(Path file) throws IOException, VmiException {
        return parse(Files.readAllLines(file, StandardCharsets.ISO_8859_1));
    }

    /** Lines of {@code <hex address> <type> <name>}; any other line is an error naming its number. */
    public static SymbolTable parse(List<String> lines) throws VmiException {
        List<Symbol> symbols = new ArrayList<>(lines.size());
        int number = 0;
        for (String line : lines) {
            number++;
            if (line.isBlank()) {
                continue;
            }
            String[] fields = line.trim().split("\\s+");
            if (fields.length < 3 || fields[1].length() != 1) {
                throw new VmiException("System.map line " + number + " is not '<address> <type> <name>': " + line);
            }
            long address;
            try {
                address = Long.parseUnsignedLong(fields[0], 16);
            } catch (NumberFormatException e) {
                throw new VmiException("System.map line " + number + " has a bad address: " + line);
            }
            boolean perCpu = Long.compareUnsigned(address, SymbolTable.KERNEL_IMAGE_START) < 0 && address >= 0;
            symbols.add(new Symbol(fields[2], address, fields[1].charAt(0), perCpu));
        }
        return new SymbolTable(symbols);
    }
}
