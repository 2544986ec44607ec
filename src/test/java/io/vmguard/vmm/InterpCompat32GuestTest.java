package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import java.io.InputStream;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * guest/programs32/compat32, a static 32-bit program, under the guest kernel's IA32 emulation on the
 * interpreter: 32-bit code in compatibility mode, system calls through INT 0x80 and through the vDSO's
 * SYSENTER (the interpreter says GenuineIntel), returns through SYSRETL and IRET to 32-bit code, a 32-bit
 * signal frame, fork.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpCompat32GuestTest {
    @Test
    void a32BitProgramRunsUnderTheKernelsIa32Emulation() throws Exception {
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=compat32",
                256L << 20, "interp", new SerialTarget.Streams(InputStream.nullInputStream(), console));
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            assertEquals(new RunOutcome.PoweredOff(0), vm.run(), console.text());
        }
        String text = console.text();
        assertTrue(text.contains("compat32: 7 passed, 0 failed"), text);
        assertTrue(text.contains("compat32: hello through int $0x80"), text);
        for (String check : new String[] {"is-32bit", "arithmetic", "int80", "vsyscall", "vdso-time", "signal", "fork"}) {
            assertTrue(text.contains("PASS " + check), check + ": " + text);
        }
    }
}
