package io.vmguard.engine.interp.jit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The emitter's flag liveness: which steps must record the flags they produce. */
class BlockEmitterTest {
    private static final int RAX = 0, RCX = 1, RBX = 3, RSI = 6;
    private static final Step.Address AT_RSI = new Step.Address(RSI, -1, 1, 0, false, 8, Step.Segment.NONE, false);

    /** fnv's loop: IMUL, then CMP and JNE fused; the IMUL's flags are overwritten before anything can read them. */
    @Test
    void aFusedCompareAndBranchOverwritesTheFlagsBeforeItsOwnStep() {
        List<Step> steps = List.of(
                new Step.Multiply(0, 4, RBX, RBX, RSI, 0, 8),
                new Step.Alu(4, 7, Step.AluKind.ADD, RAX, -1, 1, 8),
                new Step.CompareBranch(7, 12, false, 5, RAX, RCX, 0, 8, 10, -12));
        assertArrayEquals(new boolean[] {false, false, true}, BlockEmitter.flagLiveness(steps));
    }

    /** A plain Jcc reads them, and a load in between may fault with RFLAGS seen by the guest's handler. */
    @Test
    void aJccOrAStepThatMayFaultStillSeesThem() {
        List<Step> branch = List.of(
                new Step.Multiply(0, 4, RBX, RBX, RSI, 0, 8),
                new Step.Branch(4, 6, 5, -6));
        assertArrayEquals(new boolean[] {true, true}, BlockEmitter.flagLiveness(branch));
        List<Step> load = List.of(
                new Step.Alu(0, 3, Step.AluKind.ADD, RAX, -1, 1, 8),
                new Step.Load(3, 5, RCX, AT_RSI, 4),
                new Step.CompareBranch(5, 10, false, 5, RAX, RCX, 0, 8, 8, -10));
        assertArrayEquals(new boolean[] {true, false, true}, BlockEmitter.flagLiveness(load));
    }
}
