package io.vmguard.engine.interp.jit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The JIT's knobs: on/off as --jit spells it, and bounds on what a system property can ask for. */
class JitOptionsTest {
    @Test
    void theSwitchTakesOnOrOffAndNothingElse() {
        assertTrue(JitOptions.parseSwitch("on", false));
        assertFalse(JitOptions.parseSwitch("off", true));
        assertTrue(JitOptions.parseSwitch(null, true));
        assertEquals("JIT switch 'maybe' is neither on nor off",
                assertThrows(IllegalArgumentException.class, () -> JitOptions.parseSwitch("maybe", true)).getMessage());
    }

    @Test
    void thresholdAndBudgetAreBounded() {
        assertThrows(IllegalArgumentException.class, () -> new JitOptions(true, -1, 10));
        assertThrows(IllegalArgumentException.class, () -> new JitOptions(true, 0, 0));
        assertEquals(0, JitOptions.compileAtOnce().threshold());
        assertFalse(JitOptions.off().enabled());
    }
}
