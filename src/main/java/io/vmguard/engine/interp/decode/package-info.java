/**
 * x86 machine code to decoded instructions: the decoder ({@link io.vmguard.engine.interp.decode.Decoder}), the
 * decoded form it produces ({@link io.vmguard.engine.interp.decode.Instruction} with its
 * {@link io.vmguard.engine.interp.decode.Op} codes) and the fused or specialised forms of the hottest sequences
 * ({@link io.vmguard.engine.interp.decode.HotForms}). Depends on the cpu package only (operating mode, faults,
 * ALU operation codes).
 */
package io.vmguard.engine.interp.decode;
