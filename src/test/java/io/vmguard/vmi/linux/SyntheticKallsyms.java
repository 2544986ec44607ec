package io.vmguard.vmi.linux;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A small kallsyms blob laid out as Linux 6.12's scripts/kallsyms.c writes it (absolute per-CPU mode), for
 * tests: one token per character plus a multi-character token ("sys_") to exercise expansion.
 */
final class SyntheticKallsyms {
    static final String MULTI_TOKEN = "sys_";
    private static final int MULTI_INDEX = 0x01;

    record Entry(String name, char type, long address, boolean perCpu) {}

    /** The blob and where, relative to its start, each table begins. */
    record Blob(byte[] bytes, int tokenTable, int numSyms) {}

    private SyntheticKallsyms() {}

    static Blob build(List<Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparing(Entry::address, Long::compareUnsigned));
        long relativeBase = sorted.stream().filter(e -> !e.perCpu()).mapToLong(Entry::address).findFirst().orElseThrow();
        String[] tokens = new String[256];
        for (int i = 0; i < 256; i++) {
            tokens[i] = "~" + (char) ('A' + i % 26);
        }
        for (Entry e : sorted) {
            for (char c : (e.type() + e.name()).toCharArray()) {
                tokens[c] = String.valueOf(c);
            }
        }
        tokens['A'] = "A";
        tokens[MULTI_INDEX] = MULTI_TOKEN;

        Writer out = new Writer();
        out.align();
        int numSyms = out.size();
        out.u32(sorted.size());
        out.align();
        int names = out.size();
        List<Integer> markers = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i++) {
            if (i % 256 == 0) {
                markers.add(out.size() - names);
            }
            Entry e = sorted.get(i);
            byte[] encoded = encode((e.perCpu() ? 'A' : e.type()) + e.name());
            if (encoded.length > 0x7f) {
                out.u8((encoded.length & 0x7f) | 0x80);
                out.u8(encoded.length >> 7);
            } else {
                out.u8(encoded.length);
            }
            out.bytes(encoded);
        }
        out.align();
        markers.forEach(out::u32);
        out.align();
        int tokenTable = out.size();
        int[] index = new int[256];
        for (int i = 0; i < 256; i++) {
            index[i] = out.size() - tokenTable;
            out.bytes(tokens[i].getBytes(StandardCharsets.ISO_8859_1));
            out.u8(0);
        }
        out.align();
        for (int i : index) {
            out.u16(i);
        }
        out.align();
        for (Entry e : sorted) {
            out.u32(e.perCpu() ? (int) e.address() : (int) (relativeBase - e.address() - 1));
        }
        out.align();
        out.u64(relativeBase);
        List<Integer> byName = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i++) {
            byName.add(i);
        }
        byName.sort(Comparator.comparing((Integer i) -> sorted.get(i).name()).thenComparing(i -> i));
        for (int seq : byName) {
            out.u8(seq >> 16);
            out.u8(seq >> 8);
            out.u8(seq);
        }
        out.align();
        return new Blob(out.toByteArray(), tokenTable, numSyms);
    }

    private static byte[] encode(String name) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < name.length(); ) {
            if (name.startsWith(MULTI_TOKEN, i)) {
                out.write(MULTI_INDEX);
                i += MULTI_TOKEN.length();
            } else {
                out.write(name.charAt(i));
                i++;
            }
        }
        return out.toByteArray();
    }

    private static final class Writer extends ByteArrayOutputStream {
        void u8(int v) {
            write(v & 0xff);
        }

        void u16(int v) {
            u8(v);
            u8(v >> 8);
        }

        void u32(int v) {
            u16(v);
            u16(v >> 16);
        }

        void u64(long v) {
            u32((int) v);
            u32((int) (v >>> 32));
        }

        void bytes(byte[] b) {
            write(b, 0, b.length);
        }

        void align() {
            while (size() % 8 != 0) {
                u8(0);
            }
        }
    }
}
