package io.vmguard.arch.x86;

import io.vmguard.engine.Registers;
import io.vmguard.engine.SpecialRegisters;

/** The boot vCPU's registers at the kernel's 64-bit entry point, and where the kernel and initrd landed. */
public record BootState(Registers registers, SpecialRegisters specialRegisters, long kernelEnd,
                        long initrdAddress, long initrdSize) {}
