package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.engine.monitor.ExecutionVerdict;
import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.monitor.MonitorListener;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import java.io.InputStream;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * Linux boots and runs a program with every code frame asked about before it runs (our kernel, the hello
 * script): kernel and user code are both asked, and the guest cannot tell. Prints the boot's time with and
 * without the questions, and how many there were.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpCodeExecutionGuestTest {
    private record Boot(long nanos, long instructions, long asked, long userAsked, int frames, String console) {}

    private static Boot boot(boolean armed) throws Exception {
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=hello", 256L << 20, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console));
        AtomicLong asked = new AtomicLong();
        AtomicLong userAsked = new AtomicLong();
        Set<Long> frames = ConcurrentHashMap.newKeySet();
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            if (armed) {
                vm.monitoring("av").orElseThrow().arm(MonitorPlan.empty().withCodeExecutions(true), new MonitorListener() {
                    @Override
                    public void onEvent(MonitorEvent event) {
                        throw new AssertionError("only code executions are armed: " + event);
                    }

                    @Override
                    public ExecutionVerdict beforeExecution(MonitorEvent.CodeExecution event) {
                        asked.incrementAndGet();
                        if (event.userMode()) {
                            userAsked.incrementAndGet();
                        }
                        frames.add(event.frame());
                        return ExecutionVerdict.RUN;
                    }
                });
            }
            long started = System.nanoTime();
            RunOutcome outcome = vm.run();
            long nanos = System.nanoTime() - started;
            assertEquals(new RunOutcome.PoweredOff(0), outcome, console.text());
            return new Boot(nanos, vm.instructionsExecuted().orElseThrow(), asked.get(), userAsked.get(), frames.size(),
                    console.text());
        }
    }

    @Test
    void linuxBootsAndRunsAProgramWithEveryCodeFrameAskedAboutKernelAndUser() throws Exception {
        Boot on = boot(true);

        assertTrue(on.console().contains("hello from vmguard guest"), on.console());
        String figures = "%d questions (%d from user mode) about %d frames".formatted(on.asked(), on.userAsked(), on.frames());
        assertTrue(on.asked() > on.frames() && on.frames() > 100, figures);
        assertTrue(on.userAsked() > 0 && on.userAsked() < on.asked(), "kernel and user code are both asked about: " + figures);
        System.out.println("code-execution gate on a Linux boot + hello: " + figures);
    }
}
