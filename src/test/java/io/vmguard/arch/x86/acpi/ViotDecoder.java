package io.vmguard.arch.x86.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * An independent reader of VIOT tables, written from the layout in Linux's {@code include/acpi/actbl3.h}
 * and the rules of {@code drivers/acpi/viot.c} (Debian 12's iasl cannot decode VIOT, so this is the test
 * oracle). It shares no code with {@link Viot}: offsets are literal here. Stricter than Linux, which skips
 * what it does not like: anything Linux would stop at, skip or warn about is an error, as are non-zero
 * reserved bytes, a node count that is not the nodes found, and bytes after the last node.
 */
record ViotDecoder(int revision, int nodeOffset, List<Node> nodes) {
    sealed interface Node {
        /** Where the node starts, from the start of the table (what output_node fields hold). */
        int offset();
    }

    /** Type 1. */
    record PciRange(int offset, long endpointStart, int segmentStart, int segmentEnd, int bdfStart, int bdfEnd, int outputNode)
            implements Node {
        /** Linux's formula (viot_pci_dev_iommu_init): the ID the IOMMU sees for {@code bdf} in segment {@code segment}. */
        long endpointId(int segment, int bdf) {
            return ((long) (segment - segmentStart) << 16) + (bdf - bdfStart) + endpointStart;
        }
    }

    /** Type 2. */
    record MmioEndpoint(int offset, long endpointId, long baseAddress, int outputNode) implements Node {}

    /** Type 3. */
    record VirtioPciIommu(int offset, int segment, int bdf) implements Node {}

    /** Type 4. */
    record VirtioMmioIommu(int offset, long baseAddress) implements Node {}

    static ViotDecoder decode(byte[] table) {
        ByteBuffer in = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
        require(table.length >= 48, "shorter than the 48-byte VIOT header: " + table.length);
        require("VIOT".equals(new String(table, 0, 4, StandardCharsets.US_ASCII)), "signature is not VIOT");
        require(in.getInt(4) == table.length, "length field " + in.getInt(4) + ", table has " + table.length + " bytes");
        int sum = 0;
        for (byte b : table) {
            sum += b;
        }
        require((sum & 0xff) == 0, "checksum: bytes sum to 0x" + Integer.toHexString(sum & 0xff));
        int count = Short.toUnsignedInt(in.getShort(36));
        int nodeOffset = Short.toUnsignedInt(in.getShort(38));
        requireZero(table, 40, 8, "header reserved");
        require(nodeOffset >= 48, "node offset 0x" + Integer.toHexString(nodeOffset) + " inside the header");
        List<Node> nodes = new ArrayList<>();
        int at = nodeOffset;
        while (at < table.length) {
            require(at + 4 <= table.length, "node header at 0x" + Integer.toHexString(at) + " runs past the table");
            int type = table[at] & 0xff;
            int length = Short.toUnsignedInt(in.getShort(at + 2));
            require(table[at + 1] == 0, "node at 0x" + Integer.toHexString(at) + ": reserved byte");
            require(length >= 4 && at + length <= table.length,
                    "node at 0x" + Integer.toHexString(at) + " of length " + length + " outside the table");
            nodes.add(switch (type) {
                case 1 -> {
                    requireLength(at, length, 24);
                    requireZero(table, at + 18, 6, "PCI range reserved");
                    yield new PciRange(at, Integer.toUnsignedLong(in.getInt(at + 4)), u16(in, at + 8), u16(in, at + 10),
                            u16(in, at + 12), u16(in, at + 14), u16(in, at + 16));
                }
                case 2 -> {
                    requireLength(at, length, 24);
                    requireZero(table, at + 18, 6, "MMIO endpoint reserved");
                    yield new MmioEndpoint(at, Integer.toUnsignedLong(in.getInt(at + 4)), in.getLong(at + 8), u16(in, at + 16));
                }
                case 3 -> {
                    requireLength(at, length, 16);
                    requireZero(table, at + 8, 8, "virtio-pci IOMMU reserved");
                    yield new VirtioPciIommu(at, u16(in, at + 4), u16(in, at + 6));
                }
                case 4 -> {
                    requireLength(at, length, 16);
                    requireZero(table, at + 4, 4, "virtio-mmio IOMMU reserved");
                    yield new VirtioMmioIommu(at, in.getLong(at + 8));
                }
                default -> throw new AssertionError("node at 0x" + Integer.toHexString(at) + " has unknown type " + type);
            });
            at += length;
        }
        require(nodes.size() == count, "node count " + count + ", found " + nodes.size());
        for (Node node : nodes) {
            int output = switch (node) {
                case PciRange range -> range.outputNode();
                case MmioEndpoint endpoint -> endpoint.outputNode();
                case VirtioPciIommu _, VirtioMmioIommu _ -> -1;
            };
            if (output >= 0) {
                require(nodes.stream().anyMatch(n -> n.offset() == output && (n instanceof VirtioPciIommu || n instanceof VirtioMmioIommu)),
                        "node at 0x" + Integer.toHexString(node.offset()) + ": output node 0x" + Integer.toHexString(output) + " is no IOMMU node");
            }
            if (node instanceof PciRange range) {
                require(range.segmentStart() <= range.segmentEnd() && range.bdfStart() <= range.bdfEnd(),
                        "PCI range at 0x" + Integer.toHexString(range.offset()) + " is empty");
            }
        }
        return new ViotDecoder(table[8] & 0xff, nodeOffset, List.copyOf(nodes));
    }

    <T extends Node> List<T> nodes(Class<T> type) {
        return nodes.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static int u16(ByteBuffer in, int offset) {
        return Short.toUnsignedInt(in.getShort(offset));
    }

    private static void requireLength(int at, int length, int expected) {
        require(length == expected, "node at 0x" + Integer.toHexString(at) + " has length " + length + ", not " + expected);
    }

    private static void requireZero(byte[] table, int from, int count, String what) {
        for (int i = from; i < from + count; i++) {
            require(table[i] == 0, what + " byte at 0x" + Integer.toHexString(i) + " is not zero");
        }
    }

    private static void require(boolean condition, String problem) {
        if (!condition) {
            throw new AssertionError("VIOT: " + problem);
        }
    }
}
