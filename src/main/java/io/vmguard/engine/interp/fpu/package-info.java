/**
 * Floating point: the x87 unit and its 80-bit arithmetic ({@link io.vmguard.engine.interp.fpu.X87Unit},
 * {@link io.vmguard.engine.interp.fpu.X87Math}), the SSE unit ({@link io.vmguard.engine.interp.fpu.SseUnit}) and
 * the bit-exact software floating point both use ({@link io.vmguard.engine.interp.fpu.SoftFloat}). The units reach
 * integer operands through the executor's {@link io.vmguard.engine.interp.fpu.Operands}, so this package
 * depends on cpu, mmu and decode, not on the executor.
 */
package io.vmguard.engine.interp.fpu;
