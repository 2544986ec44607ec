/**
 * Runs decoded instructions: the executor and its integer operations
 * ({@link io.vmguard.engine.interp.execute.Executor}), string instructions
 * ({@link io.vmguard.engine.interp.execute.StringOps}), system instructions, MSRs and control registers
 * ({@link io.vmguard.engine.interp.execute.SystemOps}), far calls, jumps and returns
 * ({@link io.vmguard.engine.interp.execute.FarTransfers}) and interrupt and exception delivery
 * ({@link io.vmguard.engine.interp.execute.InterruptDelivery}). Depends on cpu, mmu, decode, fpu and monitor;
 * the vCPU in the root package supplies devices through the executor's and SystemOps' callback interfaces.
 */
package io.vmguard.engine.interp.execute;
