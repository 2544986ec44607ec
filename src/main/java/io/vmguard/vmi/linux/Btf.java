package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A parsed BTF type graph: types by id and by name. Immutable after parsing; shareable between threads. */
public final class Btf {
    /** Longest typedef/qualifier chain followed before giving up (a guest could make a cycle). */
    private static final int CHAIN_LIMIT = 64;

    private final List<BtfType> types;
    private final Map<String, List<Integer>> byName = new HashMap<>();

    /** {@code types.get(0)} is id 1. */
    Btf(List<BtfType> types) {
        this.types = List.copyOf(types);
        for (int i = 0; i < this.types.size(); i++) {
            String name = this.types.get(i).name();
            if (!name.isEmpty()) {
                byName.computeIfAbsent(name, n -> new ArrayList<>(1)).add(i + 1);
            }
        }
    }

    /** Number of type records (ids 1..count). */
    public int count() {
        return types.size();
    }

    /** The type with {@code id}; id 0 (void) and unknown ids fail. */
    public BtfType type(int id) throws VmiException {
        if (id <= 0 || id > types.size()) {
            throw new VmiException("BTF has no type id " + id);
        }
        return types.get(id - 1);
    }

    /** The type with {@code id}, or null for void and unknown ids. */
    BtfType typeOrNull(int id) {
        return id <= 0 || id > types.size() ? null : types.get(id - 1);
    }

    /** Ids of every type with this name, in id order. */
    public List<Integer> named(String name) {
        return byName.getOrDefault(name, List.of());
    }

    /** The first type with this name of the given kind. */
    public <T extends BtfType> Optional<T> find(String name, Class<T> kind) {
        for (int id : named(name)) {
            BtfType type = types.get(id - 1);
            if (kind.isInstance(type)) {
                return Optional.of(kind.cast(type));
            }
        }
        return Optional.empty();
    }

    /** Follows typedefs and qualifiers (const, volatile, restrict, type tags) to the type they name; the id. */
    public int resolveId(int id) throws VmiException {
        int current = id;
        for (int step = 0; step < CHAIN_LIMIT; step++) {
            switch (type(current)) {
                case BtfType.Typedef t -> current = t.type();
                case BtfType.Const t -> current = t.type();
                case BtfType.Volatile t -> current = t.type();
                case BtfType.Restrict t -> current = t.type();
                case BtfType.TypeTag t -> current = t.type();
                default -> {
                    return current;
                }
            }
        }
        throw new VmiException("BTF type " + id + " is a chain of more than " + CHAIN_LIMIT + " typedefs/qualifiers");
    }

    public BtfType resolve(int id) throws VmiException {
        return type(resolveId(id));
    }

    /** The size in bytes of the type with {@code id} (pointers are 8: x86-64). */
    public long sizeOf(int id) throws VmiException {
        return sizeOf(id, 0);
    }

    private long sizeOf(int id, int depth) throws VmiException {
        if (depth > CHAIN_LIMIT) {
            throw new VmiException("BTF type " + id + " nests arrays more than " + CHAIN_LIMIT + " deep");
        }
        return switch (resolve(id)) {
            case BtfType.Int t -> t.size();
            case BtfType.Ptr t -> 8;
            case BtfType.Array t -> Integer.toUnsignedLong(t.length()) * sizeOf(t.elementType(), depth + 1);
            case BtfType.Composite t -> t.size();
            case BtfType.Enum t -> t.size();
            case BtfType.Enum64 t -> t.size();
            case BtfType.Float t -> t.size();
            case BtfType.DataSec t -> t.size();
            case BtfType.Var t -> sizeOf(t.type(), depth + 1);
            default -> throw new VmiException("BTF type " + id + " (" + type(resolveId(id)).getClass().getSimpleName()
                    + ") has no size");
        };
    }
}
