package io.vmguard.vmi.integrity;

/** Names guest kernel addresses for reports: "symbol+0xoff", the module, or the bare address. */
@FunctionalInterface
public interface AddressNames {
    String nameOf(long address);

    static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }

    AddressNames BARE = AddressNames::hex;
}
