package io.vmguard.engine;

/** GDTR or IDTR: a linear base and a limit (size minus one). */
public record DescriptorTable(long base, int limit) {}
