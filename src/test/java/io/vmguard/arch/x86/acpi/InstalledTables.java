package io.vmguard.arch.x86.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tables {@link AcpiTables#install} wrote, read back from guest memory the way a kernel finds them:
 * RSDP, then the XSDT's entries, then the DSDT through the FADT. Every step checks what it relies on.
 */
record InstalledTables(long rsdpAddress, byte[] rsdp, Map<String, Long> addresses, Map<String, byte[]> tables) {
    static InstalledTables read(GuestMemory memory, long rsdpAddress) {
        byte[] rsdp = memory.readBytes(rsdpAddress, Rsdp.SIZE);
        assertEquals("RSD PTR ", ascii(rsdp, 0, 8));
        long xsdtAddress = le(rsdp).getLong(24);
        Map<String, Long> addresses = new LinkedHashMap<>();
        Map<String, byte[]> tables = new LinkedHashMap<>();
        byte[] xsdt = table(memory, xsdtAddress);
        addresses.put("XSDT", xsdtAddress);
        tables.put("XSDT", xsdt);
        for (int offset = Sdt.HEADER_SIZE; offset < xsdt.length; offset += 8) {
            long address = le(xsdt).getLong(offset);
            byte[] table = table(memory, address);
            addresses.put(ascii(table, 0, 4), address);
            tables.put(ascii(table, 0, 4), table);
        }
        byte[] fadt = tables.get("FACP");
        long dsdtAddress = le(fadt).getLong(Fadt.X_DSDT_OFFSET);
        addresses.put("DSDT", dsdtAddress);
        tables.put("DSDT", table(memory, dsdtAddress));
        return new InstalledTables(rsdpAddress, rsdp, addresses, tables);
    }

    private static byte[] table(GuestMemory memory, long address) {
        assertTrue(address >= X86Layout.ACPI_TABLES && address + Sdt.HEADER_SIZE <= X86Layout.ACPI_TABLES_END,
                "table at 0x" + Long.toHexString(address) + " outside the ACPI area");
        int length = memory.readInt(address + Sdt.LENGTH_OFFSET);
        assertTrue(length >= Sdt.HEADER_SIZE && address + length <= X86Layout.ACPI_TABLES_END, "length " + length);
        return memory.readBytes(address, length);
    }

    byte[] get(String signature) {
        byte[] table = tables.get(signature);
        if (table == null) {
            throw new AssertionError("no " + signature + " table; have " + tables.keySet());
        }
        return table;
    }

    static ByteBuffer le(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    static String ascii(byte[] bytes, int offset, int length) {
        return new String(bytes, offset, length, StandardCharsets.US_ASCII);
    }
}
