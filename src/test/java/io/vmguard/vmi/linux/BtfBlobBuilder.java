package io.vmguard.vmi.linux;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/** Writes a raw BTF blob record by record, for reader tests. Each add returns the new type's id. */
final class BtfBlobBuilder {
    private final ByteArrayOutputStream types = new ByteArrayOutputStream();
    private final ByteArrayOutputStream strings = new ByteArrayOutputStream();
    private final Map<String, Integer> stringOffsets = new HashMap<>();
    private int next = 1;

    BtfBlobBuilder() {
        strings.write(0);
        stringOffsets.put("", 0);
    }

    int add(int kind, String name, int vlen, boolean kflag, int sizeOrType, int... data) {
        u32(types, name(name));
        u32(types, (kflag ? 1 << 31 : 0) | kind << 24 | vlen);
        u32(types, sizeOrType);
        for (int word : data) {
            u32(types, word);
        }
        return next++;
    }

    int name(String name) {
        return stringOffsets.computeIfAbsent(name, n -> {
            int offset = strings.size();
            strings.writeBytes(n.getBytes(StandardCharsets.UTF_8));
            strings.write(0);
            return offset;
        });
    }

    byte[] build() {
        ByteArrayOutputStream blob = new ByteArrayOutputStream();
        blob.write(0x9f);
        blob.write(0xeb);
        blob.write(1);
        blob.write(0);
        u32(blob, 24);
        u32(blob, 0);
        u32(blob, types.size());
        u32(blob, types.size());
        u32(blob, strings.size());
        blob.writeBytes(types.toByteArray());
        blob.writeBytes(strings.toByteArray());
        return blob.toByteArray();
    }

    private static void u32(ByteArrayOutputStream out, int value) {
        out.write(value);
        out.write(value >>> 8);
        out.write(value >>> 16);
        out.write(value >>> 24);
    }
}
