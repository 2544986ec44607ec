package io.vmguard.api.model;

import java.util.List;

/**
 * {@code PUT /vmi/memory/read} and {@code /vmi/memory/write}: guest memory at {@code address}, physical or
 * virtual (through the page tables at {@code cr3}, the first vCPU's by default). Addresses and data are
 * hexadecimal strings: 64-bit addresses do not fit a JSON number safely.
 */
public record MemoryAccess(String space, String address, Integer size, String cr3, String data) {
    public MemoryAccess {
        space = Fields.oneOf(space == null ? "physical" : space, "space", List.of("physical", "virtual"));
        Fields.required(address, "address");
    }
}
