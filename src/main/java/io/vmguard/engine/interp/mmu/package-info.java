/**
 * Guest memory as the interpreter's vCPU sees it: paging and its TLB, RAM and MMIO
 * ({@link io.vmguard.engine.interp.mmu.Mmu}, {@link io.vmguard.engine.interp.mmu.PhysicalRam}), segmentation
 * and descriptor tables ({@link io.vmguard.engine.interp.mmu.Segmentation},
 * {@link io.vmguard.engine.interp.mmu.Descriptors}), locked read-modify-writes across vCPUs
 * ({@link io.vmguard.engine.interp.mmu.AtomicAccess}), and the epoch by which the code cache tells every MMU that
 * pages began to hold code ({@link io.vmguard.engine.interp.mmu.CodePageEpoch}). Depends on the cpu package only.
 */
package io.vmguard.engine.interp.mmu;
