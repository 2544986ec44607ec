package io.vmguard.vmi.linux;

import io.vmguard.vmi.PageTableWalker.MappedRange;
import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Finds the kallsyms tables in guest memory by their structure, with no symbol to start from (the
 * {@code kallsyms_*} labels are not reachable without them). The anchor is {@code kallsyms_token_table}:
 * every character used in a symbol name is its own token, so {@code "0\0" "1\0" ... "9\0"} appear as tokens
 * 0x30..0x39 in a row (the approach of vmlinux-to-elf). From there the 6.12 layout ({@link KallsymsTables})
 * is checked piece by piece: token_index must index every token, the markers before the token table must
 * rise from 0, and num_syms must introduce a names stream whose every 256th name starts where its marker
 * says and which ends where the markers begin.
 */
public final class KallsymsFinder {
    private static final byte[] DIGIT_TOKENS = "0\0001\0002\0003\0004\0005\0006\0007\0008\0009\000".getBytes(
            StandardCharsets.US_ASCII);
    private static final int TOKENS = 256;
    /** KSYM_NAME_LEN in 6.1+: no token or name expands beyond it. */
    private static final int NAME_MAX = 512;
    /** A compressed name is a ULEB128 length (at most two bytes, up to 0x3fff) and that many token bytes. */
    private static final int COMPRESSED_NAME_MAX = 2 + 0x3fff;
    private static final int MAX_SYMBOLS = 1 << 22;
    private static final int SCAN_CHUNK = 1 << 20;

    private final VirtualMemory memory;
    private final List<String> rejected = new ArrayList<>();

    private KallsymsFinder(VirtualMemory memory) {
        this.memory = memory;
    }

    /** Scans {@code ranges} in order and returns the first candidate that validates. */
    public static KallsymsTables find(VirtualMemory memory, List<MappedRange> ranges) throws VmiException {
        KallsymsFinder finder = new KallsymsFinder(memory);
        long scanned = 0;
        for (MappedRange range : ranges) {
            Optional<KallsymsTables> found = finder.scan(range);
            if (found.isPresent()) {
                return found.get();
            }
            scanned += range.size();
        }
        String why = finder.rejected.isEmpty() ? "no token table candidate"
                : finder.rejected.size() + " candidates rejected, first: " + finder.rejected.getFirst();
        throw new VmiException("no kallsyms tables found in " + (scanned >> 10) + " KiB of kernel mapping (" + why + ")");
    }

    private Optional<KallsymsTables> scan(MappedRange range) {
        long overlap = DIGIT_TOKENS.length - 1;
        for (long start = range.start(); Long.compareUnsigned(start, range.end()) < 0; start += SCAN_CHUNK) {
            int length = (int) Math.min(SCAN_CHUNK + overlap, range.end() - start);
            byte[] bytes;
            try {
                bytes = memory.readBytes(start, length);
            } catch (VmiException e) {
                continue; // mapped by the tables but not RAM: nothing to find there
            }
            for (int i = 0; i + DIGIT_TOKENS.length <= length; i++) {
                if (bytes[i] == '0' && matchesDigits(bytes, i)) {
                    long candidate = start + i;
                    try {
                        return Optional.of(locate(candidate));
                    } catch (VmiException e) {
                        if (rejected.size() < 16) {
                            rejected.add(String.format("%#x: %s", candidate, e.getMessage()));
                        }
                    }
                }
            }
        }
        return Optional.empty();
    }

    private static boolean matchesDigits(byte[] bytes, int at) {
        for (int k = 0; k < DIGIT_TOKENS.length; k++) {
            if (bytes[at + k] != DIGIT_TOKENS[k]) {
                return false;
            }
        }
        return true;
    }

    /** Validates the tables around a {@code "0\0".."9\0"} run at {@code zeroToken}. */
    private KallsymsTables locate(long zeroToken) throws VmiException {
        // Token 0x30 ("0") to the end of token 0xff: 208 NUL-terminated strings.
        byte[] tail = readUpTo(zeroToken, (TOKENS - '0') * NAME_MAX);
        int position = 0;
        for (int token = '0'; token < TOKENS; token++) {
            int end = indexOfZero(tail, position);
            if (end <= position) {
                throw new VmiException("token " + token + " is empty or unterminated");
            }
            position = end + 1;
        }
        long tokenIndex = align8(zeroToken + position);
        int[] index = new int[TOKENS];
        byte[] indexBytes = memory.readBytes(tokenIndex, TOKENS * 2);
        for (int i = 0; i < TOKENS; i++) {
            index[i] = (indexBytes[2 * i] & 0xff) | (indexBytes[2 * i + 1] & 0xff) << 8;
        }
        long tokenTable = zeroToken - index['0'];
        if (index[0] != 0 || (tokenTable & 7) != 0) {
            throw new VmiException("token_index does not start the table on an 8-byte boundary");
        }
        byte[] table = memory.readBytes(tokenTable, (int) (zeroToken + position - tokenTable));
        for (int i = 0; i < TOKENS; i++) {
            int end = indexOfZero(table, index[i]);
            boolean next = i + 1 < TOKENS ? index[i + 1] == end + 1 : end + 1 == table.length;
            if (end <= index[i] || !next) {
                throw new VmiException("token_index[" + i + "] disagrees with the token table");
            }
        }

        long[] markers = markersBefore(tokenTable);
        int markerCount = markers.length;
        long markersStart = tokenTable - align8(markerCount * 4L);
        int minimum = (markerCount - 1) * 256 + 1;
        int maximum = markerCount * 256;
        long lastMarker = markers[markerCount - 1];

        // num_syms is a .long then padding to the 8-aligned names; the names run at least to the last
        // marker and at most one chunk of 256 names beyond it.
        long latest = align8Down(markersStart - lastMarker - 8 - 1);
        long earliest = markersStart - lastMarker - 8 - 256L * COMPRESSED_NAME_MAX - 8;
        byte[] region = readBackTo(earliest, markersStart);
        long regionStart = markersStart - region.length;
        for (long numSyms = latest; Long.compareUnsigned(numSyms, regionStart) >= 0; numSyms -= 8) {
            int at = (int) (numSyms - regionStart);
            int count = Bytes.intAt(region, at);
            if (count < minimum || count > maximum || Bytes.intAt(region, at + 4) != 0) {
                continue;
            }
            int namesLength = walkNames(region, at + 8, count, markers);
            if (namesLength >= 0 && align8(numSyms + 8 + namesLength) == markersStart) {
                long offsets = tokenIndex + TOKENS * 2;
                long relativeBase = align8(offsets + 4L * count);
                return new KallsymsTables(count, numSyms, numSyms + 8, namesLength, markersStart, tokenTable,
                        tokenIndex, offsets, relativeBase, relativeBase + 8);
            }
        }
        throw new VmiException("no kallsyms_num_syms introduces names that match " + markerCount + " markers");
    }

    /** kallsyms_markers: u32 offsets rising from 0, ending at the token table or 4 bytes of padding before it. */
    private long[] markersBefore(long tokenTable) throws VmiException {
        int limit = MAX_SYMBOLS / 256;
        byte[] before = readBackTo(tokenTable - 4L * limit - 8, tokenTable);
        for (int padding : new int[] {0, 4}) {
            List<Long> values = new ArrayList<>();
            long previous = Long.MAX_VALUE;
            for (int at = before.length - padding - 4; at >= 0; at -= 4) {
                long value = Integer.toUnsignedLong(Bytes.intAt(before, at));
                if (value >= previous) {
                    break;
                }
                values.add(value);
                previous = value;
                if (value == 0) {
                    break;
                }
            }
            boolean startsAtZero = !values.isEmpty() && values.getLast() == 0;
            long start = tokenTable - padding - 4L * values.size();
            if (startsAtZero && (start & 7) == 0 && align8(start + 4L * values.size()) == tokenTable) {
                long[] markers = new long[values.size()];
                for (int i = 0; i < markers.length; i++) {
                    markers[i] = values.get(markers.length - 1 - i);
                }
                return markers;
            }
        }
        throw new VmiException("no rising kallsyms_markers end at the token table");
    }

    /** Walks {@code count} compressed names; the stream length, or -1 when a marker or a bound disagrees. */
    private static int walkNames(byte[] region, int start, int count, long[] markers) {
        int at = start;
        for (int i = 0; i < count; i++) {
            if ((i & 0xff) == 0 && markers[i >>> 8] != at - start) {
                return -1;
            }
            if (at >= region.length) {
                return -1;
            }
            int length = region[at] & 0xff;
            int header = 1;
            if ((length & 0x80) != 0) {
                if (at + 1 >= region.length) {
                    return -1;
                }
                length = (length & 0x7f) | (region[at + 1] & 0xff) << 7;
                header = 2;
            }
            if (length == 0) {
                return -1;
            }
            at += header + length;
        }
        return at <= region.length ? at - start : -1;
    }

    /** Up to {@code max} bytes from {@code address}, stopping at the first unmapped page. */
    private byte[] readUpTo(long address, int max) throws VmiException {
        int length = 0;
        while (length < max && memory.isMapped(address + length)) {
            length += (int) Math.min(max - length, 4096 - ((address + length) & 4095));
        }
        return memory.readBytes(address, length);
    }

    /** The bytes of {@code [from, to)}, or of its mapped tail when an unmapped page lies inside. */
    private byte[] readBackTo(long from, long to) throws VmiException {
        long start = to;
        while (Long.compareUnsigned(start, from) > 0 && memory.isMapped(start - 1)) {
            long pageStart = (start - 1) & ~4095L;
            start = Long.compareUnsigned(pageStart, from) > 0 ? pageStart : from;
        }
        return memory.readBytes(start, (int) (to - start));
    }

    private static int indexOfZero(byte[] bytes, int from) {
        for (int i = from; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                return i;
            }
        }
        return -1;
    }

    private static long align8(long value) {
        return (value + 7) & ~7L;
    }

    private static long align8Down(long value) {
        return value & ~7L;
    }
}
