package io.vmguard.arch.x86;

/** One entry of the BIOS memory map Linux reads from boot_params. */
public record E820Entry(long address, long size, Type type) {
    public enum Type {
        RAM(1), RESERVED(2), ACPI(3), NVS(4);

        private final int code;

        Type(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }
    }

    public long end() {
        return address + size;
    }
}
