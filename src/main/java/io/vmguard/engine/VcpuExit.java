package io.vmguard.engine;

import java.lang.foreign.MemorySegment;

/**
 * Why a vCPU stopped running guest code. The run loop in {@code vmm} handles every case; the device
 * model never learns which engine produced the exit.
 *
 * <p>For reads, the handler fills {@code data} and the engine hands it to the guest when the vCPU runs
 * again; {@code data} is only valid until then.
 */
public sealed interface VcpuExit {
    record IoIn(int port, MemorySegment data) implements VcpuExit {}

    record IoOut(int port, MemorySegment data) implements VcpuExit {}

    record MmioRead(long address, MemorySegment data) implements VcpuExit {}

    record MmioWrite(long address, MemorySegment data) implements VcpuExit {}

    /** The guest executed HLT and nothing can wake it inside the engine. */
    record Halt() implements VcpuExit {}

    /** The guest reset or shut the machine down (triple fault, reset request). */
    record Shutdown(String reason) implements VcpuExit {}

    /** The run was interrupted from outside (see {@link Vcpu#requestExit()}). */
    record Interrupted() implements VcpuExit {}

    /** The engine cannot go on: an emulation failure or an unexpected hypervisor state. */
    record InternalError(String reason) implements VcpuExit {}
}
