package io.vmguard.vmi.linux;

import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Decodes located kallsyms tables into symbols, as {@code kernel/kallsyms.c} does (6.12):
 * {@code kallsyms_expand_symbol} for names, {@code kallsyms_sym_address} for addresses. With
 * KALLSYMS_ABSOLUTE_PERCPU (x86-64 SMP) a non-negative offset is an absolute value (a per-CPU offset, type
 * 'A') and a negative one is relative: {@code relative_base - 1 - offset}; without it every offset is an
 * unsigned distance from relative_base. The mode is read from the data: a 2 GiB kernel would be needed for
 * a plain relative offset to look negative.
 *
 * <p>Beyond what the finder checked, decoding validates that addresses never decrease (the table is sorted
 * by address) and that seqs_of_names is a permutation listing the names in strcmp order.
 */
public final class KallsymsDecoder {
    private KallsymsDecoder() {}

    public static SymbolTable decode(VirtualMemory memory, KallsymsTables tables) throws VmiException {
        int count = tables.count();
        String[] tokens = tokens(memory, tables);
        byte[] names = memory.readBytes(tables.names(), tables.namesLength());
        byte[] offsets = memory.readBytes(tables.offsets(), 4 * count);
        long relativeBase = memory.readLong(tables.relativeBase());
        byte[] seqs = memory.readBytes(tables.seqsOfNames(), 3 * count);

        boolean absolutePerCpu = false;
        for (int i = 0; i < count; i++) {
            absolutePerCpu |= Bytes.intAt(offsets, 4 * i) < 0;
        }
        List<Symbol> symbols = new ArrayList<>(count);
        String[] plainNames = new String[count];
        StringBuilder name = new StringBuilder(64);
        int at = 0;
        long previous = 0;
        for (int i = 0; i < count; i++) {
            int length = names[at] & 0xff;
            if ((length & 0x80) != 0 && at + 1 < names.length) {
                length = (length & 0x7f) | (names[at + 1] & 0xff) << 7;
                at++;
            }
            at++;
            if (length > names.length - at) {
                throw new VmiException("kallsyms name " + i + " runs past the names stream", tables.names() + at);
            }
            name.setLength(0);
            for (int k = 0; k < length; k++) {
                name.append(tokens[names[at + k] & 0xff]);
            }
            at += length;
            int offset = Bytes.intAt(offsets, 4 * i);
            boolean absolute = absolutePerCpu && offset >= 0;
            long address = !absolutePerCpu ? relativeBase + Integer.toUnsignedLong(offset)
                    : absolute ? offset : relativeBase - 1 - offset;
            if (i > 0 && Long.compareUnsigned(address, previous) < 0) {
                throw new VmiException(String.format("kallsyms entry %d (%s) at %#x lies below its predecessor %#x",
                        i, name.substring(Math.min(1, name.length())), address, previous), tables.offsets() + 4L * i);
            }
            previous = address;
            if (name.isEmpty()) {
                throw new VmiException("kallsyms entry " + i + " has an empty name", tables.names());
            }
            plainNames[i] = name.substring(1);
            symbols.add(new Symbol(plainNames[i], address, name.charAt(0), absolute));
        }
        checkNameOrder(seqs, plainNames, tables);
        return new SymbolTable(symbols);
    }

    private static String[] tokens(VirtualMemory memory, KallsymsTables tables) throws VmiException {
        byte[] table = memory.readBytes(tables.tokenTable(), (int) (tables.tokenIndex() - tables.tokenTable()));
        byte[] index = memory.readBytes(tables.tokenIndex(), 512);
        String[] tokens = new String[256];
        for (int i = 0; i < 256; i++) {
            int start = (index[2 * i] & 0xff) | (index[2 * i + 1] & 0xff) << 8;
            int end = start;
            while (end < table.length && table[end] != 0) {
                end++;
            }
            // Symbol names are ASCII; Latin-1 keeps any other byte as one char, and keeps strcmp order.
            tokens[i] = new String(table, start, end - start, StandardCharsets.ISO_8859_1);
        }
        return tokens;
    }

    /** seqs_of_names: 3-byte big-endian address-order indexes, sorted by name (scripts/kallsyms.c compare_names). */
    private static void checkNameOrder(byte[] seqs, String[] names, KallsymsTables tables) throws VmiException {
        BitSet seen = new BitSet(names.length);
        String previous = null;
        for (int i = 0; i < names.length; i++) {
            int seq = (seqs[3 * i] & 0xff) << 16 | (seqs[3 * i + 1] & 0xff) << 8 | (seqs[3 * i + 2] & 0xff);
            if (seq >= names.length || seen.get(seq)) {
                throw new VmiException("kallsyms_seqs_of_names[" + i + "] = " + seq + " is not a permutation entry",
                        tables.seqsOfNames() + 3L * i);
            }
            seen.set(seq);
            if (previous != null && previous.compareTo(names[seq]) > 0) {
                throw new VmiException("kallsyms_seqs_of_names is not in name order at " + i, tables.seqsOfNames() + 3L * i);
            }
            previous = names[seq];
        }
    }
}
