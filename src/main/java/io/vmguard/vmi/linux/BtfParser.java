package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses a raw BTF blob (the bytes between {@code __start_BTF} and {@code __stop_BTF}, the same as
 * {@code /sys/kernel/btf/vmlinux}): header, string section, type section (include/uapi/linux/btf.h). Every
 * offset and count is checked against the blob, and an unknown kind stops the parse with its type id: the
 * record sizes of later kinds cannot be guessed, so nothing after it could be trusted.
 */
public final class BtfParser {
    public static final int MAGIC = 0xeb9f;
    private static final int MAX_TYPES = 1 << 21;
    private static final int COMMON_SIZE = 12;

    private final byte[] blob;
    private final int types;
    private final int typesEnd;
    private final int strings;
    private final int stringsEnd;
    private final Map<Integer, String> names = new HashMap<>();

    private BtfParser(byte[] blob) throws VmiException {
        this.blob = blob;
        if (blob.length < 24 || u16(0) != MAGIC) {
            throw new VmiException("not BTF: the blob does not start with magic 0xeb9f");
        }
        if ((blob[2] & 0xff) != 1) {
            throw new VmiException("BTF version " + (blob[2] & 0xff) + " is not 1");
        }
        long headerLength = u32(4);
        long typeOff = u32(8);
        long typeLen = u32(12);
        long strOff = u32(16);
        long strLen = u32(20);
        if (headerLength < 24 || headerLength > blob.length
                || headerLength + typeOff + typeLen > blob.length || headerLength + strOff + strLen > blob.length) {
            throw new VmiException("BTF header sections lie outside the " + blob.length + "-byte blob");
        }
        this.types = (int) (headerLength + typeOff);
        this.typesEnd = (int) (types + typeLen);
        this.strings = (int) (headerLength + strOff);
        this.stringsEnd = (int) (strings + strLen);
        if (strLen == 0 || blob[strings] != 0) {
            throw new VmiException("BTF string section does not start with the empty string");
        }
    }

    public static Btf parse(byte[] blob) throws VmiException {
        return new BtfParser(blob).parseTypes();
    }

    private Btf parseTypes() throws VmiException {
        List<BtfType> parsed = new ArrayList<>();
        int at = types;
        while (at < typesEnd) {
            int id = parsed.size() + 1;
            if (id > MAX_TYPES) {
                throw new VmiException("BTF has more than " + MAX_TYPES + " types");
            }
            need(at, COMMON_SIZE, id);
            String name = string(u32(at), id);
            long info = u32(at + 4);
            int vlen = (int) (info & 0xffff);
            int kind = (int) ((info >>> 24) & 0x1f);
            boolean kflag = (info >>> 31) != 0;
            int sizeOrType = (int) u32(at + 8);
            int data = at + COMMON_SIZE;
            BtfType type;
            int dataSize;
            switch (kind) {
                case 1 -> {
                    need(data, 4, id);
                    long encoding = u32(data);
                    type = new BtfType.Int(name, sizeOrType, (int) ((encoding >>> 24) & 0xf),
                            (int) ((encoding >>> 16) & 0xff), (int) (encoding & 0xff));
                    dataSize = 4;
                }
                case 2 -> {
                    type = new BtfType.Ptr(sizeOrType);
                    dataSize = 0;
                }
                case 3 -> {
                    need(data, 12, id);
                    type = new BtfType.Array((int) u32(data), (int) u32(data + 4), (int) u32(data + 8));
                    dataSize = 12;
                }
                case 4, 5 -> {
                    dataSize = 12 * vlen;
                    need(data, dataSize, id);
                    List<BtfType.Member> members = new ArrayList<>(vlen);
                    for (int i = 0; i < vlen; i++) {
                        int m = data + 12 * i;
                        long offset = u32(m + 8);
                        // kflag: bitfield size in the top 8 bits, bit offset in the low 24.
                        long bitOffset = kflag ? offset & 0xff_ffff : offset;
                        int bitfieldSize = kflag ? (int) (offset >>> 24) : 0;
                        members.add(new BtfType.Member(string(u32(m), id), (int) u32(m + 4), bitOffset, bitfieldSize));
                    }
                    type = kind == 4 ? new BtfType.Struct(name, sizeOrType, List.copyOf(members))
                            : new BtfType.Union(name, sizeOrType, List.copyOf(members));
                }
                case 6 -> {
                    dataSize = 8 * vlen;
                    need(data, dataSize, id);
                    List<BtfType.EnumValue> values = new ArrayList<>(vlen);
                    for (int i = 0; i < vlen; i++) {
                        int raw = (int) u32(data + 8 * i + 4);
                        values.add(new BtfType.EnumValue(string(u32(data + 8 * i), id),
                                kflag ? raw : Integer.toUnsignedLong(raw)));
                    }
                    type = new BtfType.Enum(name, sizeOrType, kflag, List.copyOf(values));
                }
                case 7 -> {
                    type = new BtfType.Fwd(name, kflag);
                    dataSize = 0;
                }
                case 8 -> {
                    type = new BtfType.Typedef(name, sizeOrType);
                    dataSize = 0;
                }
                case 9 -> {
                    type = new BtfType.Volatile(sizeOrType);
                    dataSize = 0;
                }
                case 10 -> {
                    type = new BtfType.Const(sizeOrType);
                    dataSize = 0;
                }
                case 11 -> {
                    type = new BtfType.Restrict(sizeOrType);
                    dataSize = 0;
                }
                case 12 -> {
                    type = new BtfType.Func(name, sizeOrType, vlen);
                    dataSize = 0;
                }
                case 13 -> {
                    dataSize = 8 * vlen;
                    need(data, dataSize, id);
                    List<BtfType.Parameter> parameters = new ArrayList<>(vlen);
                    for (int i = 0; i < vlen; i++) {
                        parameters.add(new BtfType.Parameter(string(u32(data + 8 * i), id), (int) u32(data + 8 * i + 4)));
                    }
                    type = new BtfType.FuncProto(sizeOrType, List.copyOf(parameters));
                }
                case 14 -> {
                    need(data, 4, id);
                    type = new BtfType.Var(name, sizeOrType, (int) u32(data));
                    dataSize = 4;
                }
                case 15 -> {
                    dataSize = 12 * vlen;
                    need(data, dataSize, id);
                    List<BtfType.SectionVariable> variables = new ArrayList<>(vlen);
                    for (int i = 0; i < vlen; i++) {
                        int v = data + 12 * i;
                        variables.add(new BtfType.SectionVariable((int) u32(v), u32(v + 4), (int) u32(v + 8)));
                    }
                    type = new BtfType.DataSec(name, sizeOrType, List.copyOf(variables));
                }
                case 16 -> {
                    type = new BtfType.Float(name, sizeOrType);
                    dataSize = 0;
                }
                case 17 -> {
                    need(data, 4, id);
                    type = new BtfType.DeclTag(name, sizeOrType, (int) u32(data));
                    dataSize = 4;
                }
                case 18 -> {
                    type = new BtfType.TypeTag(name, sizeOrType);
                    dataSize = 0;
                }
                case 19 -> {
                    dataSize = 12 * vlen;
                    need(data, dataSize, id);
                    List<BtfType.EnumValue> values = new ArrayList<>(vlen);
                    for (int i = 0; i < vlen; i++) {
                        int v = data + 12 * i;
                        values.add(new BtfType.EnumValue(string(u32(v), id), u32(v + 8) << 32 | u32(v + 4)));
                    }
                    type = new BtfType.Enum64(name, sizeOrType, kflag, List.copyOf(values));
                }
                default -> throw new VmiException("BTF type " + id + " has unknown kind " + kind
                        + " (this reader knows kinds 1..19)");
            }
            parsed.add(type);
            at = data + dataSize;
        }
        if (at != typesEnd) {
            throw new VmiException("BTF type section overruns its length");
        }
        return new Btf(parsed);
    }

    private void need(int at, int length, int id) throws VmiException {
        if (length < 0 || at > typesEnd - length) {
            throw new VmiException("BTF type " + id + " runs past the end of the type section");
        }
    }

    private String string(long offset, int id) throws VmiException {
        if (offset == 0) {
            return "";
        }
        if (offset >= stringsEnd - strings) {
            throw new VmiException("BTF type " + id + " names string offset " + offset + ", outside the string section");
        }
        String cached = names.get((int) offset);
        if (cached != null) {
            return cached;
        }
        int start = strings + (int) offset;
        int end = start;
        while (end < stringsEnd && blob[end] != 0) {
            end++;
        }
        if (end == stringsEnd) {
            throw new VmiException("BTF string at offset " + offset + " is not terminated");
        }
        String value = new String(blob, start, end - start, StandardCharsets.UTF_8);
        names.put((int) offset, value);
        return value;
    }

    private int u16(int at) {
        return (blob[at] & 0xff) | (blob[at + 1] & 0xff) << 8;
    }

    private long u32(int at) {
        return Integer.toUnsignedLong((blob[at] & 0xff) | (blob[at + 1] & 0xff) << 8 | (blob[at + 2] & 0xff) << 16
                | (blob[at + 3] & 0xff) << 24);
    }
}
