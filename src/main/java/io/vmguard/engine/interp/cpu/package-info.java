/**
 * The interpreter's core CPU state, which every other part of the interpreter reads and writes: registers,
 * segments, control registers and MSR values ({@link io.vmguard.engine.interp.cpu.CpuState}), the lazily
 * computed arithmetic flags and the ALU that records them ({@link io.vmguard.engine.interp.cpu.Flags},
 * {@link io.vmguard.engine.interp.cpu.Alu}), the architectural exceptions an instruction raises
 * ({@link io.vmguard.engine.interp.cpu.GuestFault}) and the CPU model CPUID reports
 * ({@link io.vmguard.engine.interp.cpu.Cpuid}). It depends on no other interpreter package but the platform's
 * constants.
 */
package io.vmguard.engine.interp.cpu;
