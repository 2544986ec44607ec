package io.vmguard.vmi.linux;

/** One {@code sys_call_table} slot and the symbol its handler resolves to ({@code name+0xoff} or a bare address). */
public record SyscallEntry(int number, long handler, String symbol) {}
