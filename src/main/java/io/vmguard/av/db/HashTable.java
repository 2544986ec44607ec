package io.vmguard.av.db;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hash signatures in flat arrays per hash kind, indexed by open addressing on (size, digest): official databases hold millions of
 * them, and a record plus a map entry each would take ten times the memory (about 60 bytes an entry here, the
 * name included). A scan first asks which digests any signature of the object's size needs ({@link #kindsFor})
 * and computes only those, usually none. Immutable once built; the builder is not thread-safe.
 */
public final class HashTable {
    private final Column[] columns = new Column[HashKind.values().length];
    private final byte[] names;
    private final int[] nameStarts;
    private final List<String> databases;
    private final int size;

    /** One found signature. */
    public record Entry(String name, String database) {
    }

    /**
     * Entries of one hash kind in insertion order, with two open-addressing indexes: {@code slots} (entry
     * index + 1, by size and digest) and {@code sizeSet} (size + 2, to answer "any signature of this size?").
     */
    private record Column(long[] sizes, byte[] digests, int width, int[] nameIds, short[] databaseIds, int[] slots, long[] sizeSet,
            boolean anySize) {
        int count() {
            return sizes.length;
        }

        boolean equal(int i, long size, byte[] digest) {
            return sizes[i] == size && Arrays.equals(digests, i * width, i * width + width, digest, 0, width);
        }

        boolean hasSize(long size) {
            if (sizeSet.length == 0) {
                return false;
            }
            int mask = sizeSet.length - 1;
            for (int at = mix(size) & mask; sizeSet[at] != 0; at = (at + 1) & mask) {
                if (sizeSet[at] == size + 2) {
                    return true;
                }
            }
            return false;
        }

        void find(long size, byte[] digest, java.util.function.IntConsumer found) {
            if (slots.length == 0) {
                return;
            }
            int mask = slots.length - 1;
            for (int at = hash(size, digest, 0, width) & mask; slots[at] != 0; at = (at + 1) & mask) {
                int i = slots[at] - 1;
                if (equal(i, size, digest)) {
                    found.accept(i);
                }
            }
        }
    }

    static int mix(long value) {
        long h = value * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    static int hash(long size, byte[] digest, int offset, int width) {
        long h = size;
        for (int i = 0; i < Math.min(8, width); i++) {
            h = (h << 8) ^ (h >>> 56) ^ (digest[offset + i] & 0xff);
        }
        return mix(h ^ size * 31);
    }

    private HashTable(Builder b) {
        names = Arrays.copyOf(b.names, b.namesLength);
        nameStarts = Arrays.copyOf(b.nameStarts, b.nameCount + 1);
        nameStarts[b.nameCount] = b.namesLength;
        databases = List.copyOf(b.databases);
        size = b.count;
        for (HashKind kind : HashKind.values()) {
            columns[kind.ordinal()] = b.column(kind);
        }
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    /** Bytes the table takes, for --stats. */
    public long footprintBytes() {
        long total = names.length + nameStarts.length * 4L;
        for (Column c : columns) {
            total += c.sizes().length * 8L + c.digests().length + c.nameIds().length * 4L + c.databaseIds().length * 2L
                    + c.slots().length * 4L + c.sizeSet().length * 8L;
        }
        return total;
    }

    /** The digests worth computing for an object of this size. */
    public Set<HashKind> kindsFor(long objectSize) {
        Set<HashKind> kinds = EnumSet.noneOf(HashKind.class);
        for (HashKind kind : HashKind.values()) {
            Column c = columns[kind.ordinal()];
            if (c.anySize() || c.hasSize(objectSize)) {
                kinds.add(kind);
            }
        }
        return kinds;
    }

    /** Signatures matching any of these digests of an object of this size. */
    public List<Entry> lookup(long objectSize, Map<HashKind, byte[]> digests) {
        List<Entry> found = new ArrayList<>(0);
        digests.forEach((kind, digest) -> {
            Column c = columns[kind.ordinal()];
            for (long size : new long[] {objectSize, HashSignature.ANY_SIZE}) {
                c.find(size, digest, i -> {
                    int id = c.nameIds()[i];
                    found.add(new Entry(new String(names, nameStarts[id], nameStarts[id + 1] - nameStarts[id], StandardCharsets.ISO_8859_1),
                            databases.get(c.databaseIds()[i])));
                });
            }
        });
        return found;
    }

    public static final class Builder {
        /** Entries per hash kind; beyond this the flat digest array would pass 2 GiB. */
        static final int MAX_ENTRIES = 40_000_000;
        private int count;
        private int nameCount;
        private byte[] names = new byte[1024];
        private int namesLength;
        private int[] nameStarts = new int[64];
        private final List<String> databases = new ArrayList<>();
        private String lastDatabase;
        private int lastDatabaseId;
        private final Growing[] growing = new Growing[HashKind.values().length];

        /** Per kind, in insertion order: sizes, digests, name ids and database ids. */
        private static final class Growing {
            long[] sizes = new long[16];
            byte[] digests;
            int[] nameIds = new int[16];
            short[] databaseIds = new short[16];
            int count;
            final int width;

            Growing(int width) {
                this.width = width;
                digests = new byte[16 * width];
            }
        }

        /** Adds a signature; false when the table for its kind is full. */
        public boolean add(HashSignature s) {
            Growing g = growing[s.kind().ordinal()];
            if (g != null && g.count >= MAX_ENTRIES) {
                return false;
            }
            byte[] name = s.name().getBytes(StandardCharsets.ISO_8859_1);
            if (nameCount + 1 >= nameStarts.length) {
                nameStarts = Arrays.copyOf(nameStarts, nameStarts.length * 2);
            }
            if (namesLength + name.length > names.length) {
                names = Arrays.copyOf(names, Math.max(names.length * 2, namesLength + name.length));
            }
            nameStarts[nameCount] = namesLength;
            System.arraycopy(name, 0, names, namesLength, name.length);
            namesLength += name.length;
            int database = s.database().equals(lastDatabase) ? lastDatabaseId : databases.indexOf(s.database());
            if (database < 0) {
                databases.add(s.database());
                database = databases.size() - 1;
            }
            lastDatabase = s.database();
            lastDatabaseId = database;
            if (g == null) {
                g = growing[s.kind().ordinal()] = new Growing(s.digest().length);
            }
            if (g.count == g.sizes.length) {
                int capacity = (int) Math.min((long) g.sizes.length * 2, MAX_ENTRIES);
                g.sizes = Arrays.copyOf(g.sizes, capacity);
                g.digests = Arrays.copyOf(g.digests, capacity * g.width);
                g.nameIds = Arrays.copyOf(g.nameIds, capacity);
                g.databaseIds = Arrays.copyOf(g.databaseIds, capacity);
            }
            g.sizes[g.count] = s.size();
            System.arraycopy(s.digest(), 0, g.digests, g.count * g.width, g.width);
            g.nameIds[g.count] = nameCount++;
            g.databaseIds[g.count] = (short) Math.min(database, Short.MAX_VALUE);
            g.count++;
            count++;
            return true;
        }

        public int size() {
            return count;
        }

        /** Removes entries whose name the predicate picks (ignore lists read after the signatures). */
        public void removeIf(java.util.function.Predicate<String> byName) {
            for (Growing g : growing) {
                if (g == null) {
                    continue;
                }
                int kept = 0;
                for (int i = 0; i < g.count; i++) {
                    int id = g.nameIds[i];
                    String name = new String(names, nameStarts[id], (id + 1 < nameCount ? nameStarts[id + 1] : namesLength) - nameStarts[id],
                            StandardCharsets.ISO_8859_1);
                    if (!byName.test(name)) {
                        g.sizes[kept] = g.sizes[i];
                        System.arraycopy(g.digests, i * g.width, g.digests, kept * g.width, g.width);
                        g.nameIds[kept] = id;
                        g.databaseIds[kept] = g.databaseIds[i];
                        kept++;
                    }
                }
                count -= g.count - kept;
                g.count = kept;
            }
        }

        public HashTable build() {
            return new HashTable(this);
        }

        private Column column(HashKind kind) {
            Growing g = growing[kind.ordinal()];
            if (g == null || g.count == 0) {
                return new Column(new long[0], new byte[0], kind.hexDigits / 2, new int[0], new short[0], new int[0], new long[0], false);
            }
            int n = g.count;
            long[] sizes = Arrays.copyOf(g.sizes, n);
            byte[] digests = Arrays.copyOf(g.digests, n * g.width);
            int[] slots = new int[tableSize(n)];
            int mask = slots.length - 1;
            long[] sizeSet = new long[tableSize(n)];
            int sizeMask = sizeSet.length - 1;
            boolean any = false;
            for (int i = 0; i < n; i++) {
                int at = hash(sizes[i], digests, i * g.width, g.width) & mask;
                while (slots[at] != 0) {
                    at = (at + 1) & mask;
                }
                slots[at] = i + 1;
                if (sizes[i] == HashSignature.ANY_SIZE) {
                    any = true;
                    continue;
                }
                int s = mix(sizes[i]) & sizeMask;
                while (sizeSet[s] != 0 && sizeSet[s] != sizes[i] + 2) {
                    s = (s + 1) & sizeMask;
                }
                sizeSet[s] = sizes[i] + 2;
            }
            return new Column(sizes, digests, g.width, Arrays.copyOf(g.nameIds, n), Arrays.copyOf(g.databaseIds, n), slots, sizeSet, any);
        }

        /** A power of two at least twice the entries: probes stay short. */
        private static int tableSize(int entries) {
            return Integer.highestOneBit(Math.max(4, entries) * 2 - 1) << 1;
        }
    }
}
