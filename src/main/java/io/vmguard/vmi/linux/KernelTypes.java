package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Structure layouts of a running kernel, answered from its own BTF: member offsets by name (through the
 * anonymous structs and unions the kernel nests fields in, e.g. most of {@code mm_struct} and
 * {@code randomized_struct_fields_*}), sizes, enum constants and per-CPU variable offsets. Answers are
 * memoised; one instance serves every pass over the same kernel, from any thread.
 */
public final class KernelTypes {
    private static final String PER_CPU_SECTION = ".data..percpu";
    private static final int NESTING_LIMIT = 16;

    private final Btf btf;
    private final Map<String, Field> fields = new ConcurrentHashMap<>();
    private volatile Map<String, Long> enumConstants;

    public KernelTypes(Btf btf) {
        this.btf = btf;
    }

    public Btf btf() {
        return btf;
    }

    /**
     * A member found by path.
     *
     * @param offset       byte offset from the start of the outer struct
     * @param type         BTF id of the member's declared type
     * @param size         bytes of that type
     * @param bitfieldSize bits of a bitfield member, else 0 (then {@code offset} is exact)
     */
    public record Field(String path, long offset, int type, long size, int bitfieldSize) {}

    /** The struct or union named {@code name} (a definition, not a forward declaration). */
    public BtfType.Composite composite(String name) throws VmiException {
        for (int id : btf.named(name)) {
            if (btf.type(id) instanceof BtfType.Composite composite) {
                return composite;
            }
        }
        throw new VmiException("the kernel's BTF has no struct " + name);
    }

    public boolean hasStruct(String name) {
        return btf.named(name).stream().anyMatch(id -> {
            try {
                return btf.type(id) instanceof BtfType.Composite;
            } catch (VmiException e) {
                return false;
            }
        });
    }

    public long sizeOf(String struct) throws VmiException {
        return composite(struct).size();
    }

    /**
     * The member at {@code path} in {@code struct}: names separated by dots, each optionally indexed
     * ({@code "mem[0].base"}, {@code "pid_links[0]"}, {@code "idr.idr_rt.xa_head"}).
     */
    public Field field(String struct, String path) throws VmiException {
        String key = struct + "::" + path;
        Field known = fields.get(key);
        if (known != null) {
            return known;
        }
        Field found = lookUp(struct, path);
        fields.put(key, found);
        return found;
    }

    public long offsetOf(String struct, String path) throws VmiException {
        return field(struct, path).offset();
    }

    public boolean has(String struct, String path) {
        try {
            field(struct, path);
            return true;
        } catch (VmiException e) {
            return false;
        }
    }

    /** The element count of the array member at {@code path}. */
    public int arrayLength(String struct, String path) throws VmiException {
        if (btf.resolve(field(struct, path).type()) instanceof BtfType.Array array) {
            return array.length();
        }
        throw new VmiException(struct + "." + path + " is not an array");
    }

    /** The offset of per-CPU variable {@code name} in each CPU's area, from the {@code .data..percpu} DATASEC. */
    public OptionalLong perCpuOffset(String name) throws VmiException {
        Optional<BtfType.DataSec> section = btf.find(PER_CPU_SECTION, BtfType.DataSec.class);
        if (section.isEmpty()) {
            return OptionalLong.empty();
        }
        for (BtfType.SectionVariable variable : section.get().variables()) {
            if (btf.type(variable.type()).name().equals(name)) {
                return OptionalLong.of(variable.offset());
            }
        }
        return OptionalLong.empty();
    }

    /** The value of the enum constant {@code name} (e.g. {@code PIDTYPE_PID}, {@code MOD_TEXT}). */
    public OptionalLong enumValue(String name) {
        Long value = enumConstants().get(name);
        return value == null ? OptionalLong.empty() : OptionalLong.of(value);
    }

    private Map<String, Long> enumConstants() {
        Map<String, Long> constants = enumConstants;
        if (constants == null) {
            constants = new HashMap<>();
            for (int id = 1; id <= btf.count(); id++) {
                List<BtfType.EnumValue> values = switch (btf.typeOrNull(id)) {
                    case BtfType.Enum e -> e.values();
                    case BtfType.Enum64 e -> e.values();
                    case null, default -> List.of();
                };
                for (BtfType.EnumValue value : values) {
                    constants.putIfAbsent(value.name(), value.value());
                }
            }
            enumConstants = Map.copyOf(constants);
        }
        return enumConstants;
    }

    /** The constant of enum type {@code enumType} whose value is {@code value}. */
    public Optional<String> enumName(int enumType, long value) throws VmiException {
        var values = switch (btf.resolve(enumType)) {
            case BtfType.Enum e -> e.values();
            case BtfType.Enum64 e -> e.values();
            default -> throw new VmiException("BTF type " + enumType + " is not an enum");
        };
        return values.stream().filter(v -> v.value() == value).map(BtfType.EnumValue::name).findFirst();
    }

    private Field lookUp(String struct, String path) throws VmiException {
        BtfType.Composite current = composite(struct);
        long offset = 0;
        int type = 0;
        int bitfield = 0;
        String[] parts = path.split("\\.", -1);
        for (int p = 0; p < parts.length; p++) {
            String part = parts[p];
            int bracket = part.indexOf('[');
            String name = bracket < 0 ? part : part.substring(0, bracket);
            Located member = member(current, name, 0);
            if (member == null) {
                throw new VmiException("the kernel's struct " + struct + " has no member " + String.join(".",
                        Arrays.copyOf(parts, p + 1)));
            }
            offset += member.bitOffset / 8;
            type = member.member.type();
            bitfield = member.member.bitfieldSize();
            if (bracket >= 0) {
                for (String index : part.substring(bracket + 1).split("\\[")) {
                    if (!index.endsWith("]")) {
                        throw new IllegalArgumentException("bad member path " + path);
                    }
                    int i = Integer.parseInt(index.substring(0, index.length() - 1));
                    if (!(btf.resolve(type) instanceof BtfType.Array array)) {
                        throw new VmiException(struct + "." + path + ": " + name + " is not an array");
                    }
                    if (i < 0 || Integer.compareUnsigned(i, array.length()) >= 0 && array.length() != 0) {
                        throw new VmiException(struct + "." + path + ": index " + i + " is outside "
                                + array.length() + " elements");
                    }
                    offset += i * btf.sizeOf(array.elementType());
                    type = array.elementType();
                }
            }
            if (p + 1 < parts.length) {
                if (!(btf.resolve(type) instanceof BtfType.Composite inner)) {
                    throw new VmiException(struct + "." + path + ": " + part + " is not a struct or union");
                }
                current = inner;
            }
        }
        return new Field(path, offset, type, btf.sizeOf(type), bitfield);
    }

    private record Located(BtfType.Member member, long bitOffset) {}

    /** The member called {@code name}, directly or inside anonymous struct/union members (depth-first). */
    private Located member(BtfType.Composite composite, String name, int depth) throws VmiException {
        if (depth > NESTING_LIMIT) {
            return null;
        }
        for (BtfType.Member member : composite.members()) {
            if (member.name().equals(name)) {
                return new Located(member, member.bitOffset());
            }
        }
        for (BtfType.Member member : composite.members()) {
            if (member.name().isEmpty() && btf.resolve(member.type()) instanceof BtfType.Composite inner) {
                Located found = member(inner, name, depth + 1);
                if (found != null) {
                    return new Located(found.member, member.bitOffset() + found.bitOffset);
                }
            }
        }
        return null;
    }
}
