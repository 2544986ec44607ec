package io.vmguard.vmi.linux;

/**
 * A module's kobject under {@code module_kset} (a /sys/module entry), the second view of loaded modules.
 *
 * @param module the struct module it belongs to; 0 for built-in code that only has parameters
 */
public record ModuleKobject(long kobject, String name, long module) {}
