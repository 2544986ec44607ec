package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.vmguard.engine.interp.jit.JitCompiler;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.engine.interp.jit.Step;
import java.lang.invoke.MethodHandles;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The compiler thread's warm-up calls (JitOptions.warmUp): a translation called with no runtime returns at once,
 * having retired nothing and touched nothing, whatever its steps would do to a guest.
 */
class JitWarmUpTest {
    @Test
    void aTranslationCalledWithNoRuntimeReturnsAtOnce() {
        CompiledBlock translation = compile(List.of(
                new Step.Alu(0, 3, Step.AluKind.ADD, 0, -1, 1, 8),
                new Step.Branch(3, 5, 5, -5)));
        for (int i = 0; i < 1_000; i++) {
            assertEquals(0, translation.run(null));
        }
    }

    private static CompiledBlock compile(List<Step> steps) {
        CompiledBlock[] installed = new CompiledBlock[1];
        try (JitCompiler compiler = new JitCompiler(MethodHandles.lookup(), JitOptions.compileAtOnce())) {
            compiler.compileNow(new JitCompiler.Unit() {
                @Override
                public List<Step> steps() {
                    return steps;
                }

                @Override
                public List<?> classData() {
                    return List.of();
                }

                @Override
                public void install(Object compiled) {
                    installed[0] = (CompiledBlock) compiled;
                }

                @Override
                public void evict(boolean forGood) {
                    throw new AssertionError("the block could not be compiled: " + compiler.lastFailure());
                }
            });
            assertNull(compiler.lastFailure());
        }
        assertNotNull(installed[0]);
        return installed[0];
    }
}
