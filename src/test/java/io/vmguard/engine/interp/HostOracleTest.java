package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.engine.interp.DifferentialHarness.Case;
import io.vmguard.engine.interp.DifferentialHarness.Outcome;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The host oracle on its own, with known values (see {@link HostOracle}): results and flags written back,
 * each exception as the vector, RIP, error code and CR2 the CPU reported, the registers as of the fault,
 * the batch going on after it, and a system call from test code refused (#UD, as the sandbox's SYSCALL
 * with EFER.SCE clear) instead of reaching the kernel.
 */
class HostOracleTest {
    @Test
    void reportsResultsAndEveryExceptionAsTheCpuRaisedIt() throws Exception {
        assumeTrue(HostOracle.available().contains(HostOracle.Oracle.HOST), "the host oracle is not chosen");
        DifferentialHarness h = new DifferentialHarness("hostOracleKnownValues", 1);
        Case add = h.add("add", "mov $2, %eax\nadd $-3, %eax\nmov $7, %r9");
        Case ud = h.add("ud2", "mov $5, %ecx\nud2\nmov $6, %ecx");
        Case de = h.add("divide", "xor %edx, %edx\nmov $1, %eax\nxor %ecx, %ecx\ndiv %ecx");
        Case write = h.add("write", "movabs $0x200000000, %rbx\nmovl $1, 8(%rbx)");
        Case gp = h.add("non-canonical", "movabs $0x800000000000, %rbx\nmov (%rbx), %rax");
        Case syscall = h.add("syscall", "mov $60, %eax\nxor %edi, %edi\nsyscall");
        Case after = h.add("after", "mov $1, %r10\nneg %r10");
        List<Outcome> o = h.hostOutcomes();
        Outcome a = o.get(add.index);
        assertEquals(-1, a.faultVector());
        assertEquals(0xffff_ffffL, a.regs()[DifferentialHarness.RAX]);
        assertEquals(7, a.regs()[9]);
        assertEquals(DifferentialHarness.SF | DifferentialHarness.PF, a.rflags() & DifferentialHarness.ARITHMETIC);
        Outcome u = o.get(ud.index);
        assertEquals(6, u.faultVector());
        assertEquals(5, u.regs()[DifferentialHarness.RCX], "the registers as of the fault");
        assertEquals(0, o.get(de.index).faultVector());
        Outcome w = o.get(write.index);
        assertEquals(14, w.faultVector());
        assertEquals(0x200000008L, w.cr2());
        assertEquals(6, w.faultError(), "#PF: user, write, not present");
        Outcome g = o.get(gp.index);
        assertEquals(13, g.faultVector());
        assertEquals(0, g.faultError());
        Outcome s = o.get(syscall.index);
        assertEquals(6, s.faultVector(), "SYSCALL from test code: #UD, never the kernel");
        assertEquals(60, s.regs()[DifferentialHarness.RAX]);
        Outcome n = o.get(after.index);
        assertEquals(-1, n.faultVector(), "the batch goes on after the faults");
        assertEquals(-1L, n.regs()[10]);
    }

    /** Each host rule maps exactly its pattern, only where the interpreter reports the sandbox's value, and is counted. */
    @Test
    void hostRulesMapOnlyTheirOwnPattern() {
        DifferentialHarness h = new DifferentialHarness("hostRules", 1);
        long top = 0x7fff_ffff_f010L;
        // Linux's P bit on the top user page: mapped there, not elsewhere, not where the interpreter has P too.
        assertEquals(4, h.normaliseHostProcess(fault(14, 0x100000, 5, top), fault(14, 0x100000, 4, top)).faultError());
        assertEquals(5, h.normaliseHostProcess(fault(14, 0x100000, 5, 0x2000_0000), fault(14, 0x100000, 4, 0x2000_0000)).faultError());
        assertEquals(5, h.normaliseHostProcess(fault(14, 0x100000, 5, top), fault(14, 0x100000, 5, top)).faultError());
        // The fetch bit under NXE: only for a fetch (CR2 = RIP).
        assertEquals(4, h.normaliseHostProcess(fault(14, 0x1_0000_0000L, 0x14, 0x1_0000_0000L),
                fault(14, 0x1_0000_0000L, 4, 0x1_0000_0000L)).faultError());
        assertEquals(0x14, h.normaliseHostProcess(fault(14, 0x100000, 0x14, 0x1_0000_0000L),
                fault(14, 0x100000, 4, 0x1_0000_0000L)).faultError());
        // #GP for the canonical end of the top page: only against a #PF at the very end, at the same RIP.
        assertEquals(14, h.normaliseHostProcess(fault(13, 0x100000, 0, 0), fault(14, 0x100000, 4, 0x7fff_ffff_fffdL)).faultVector());
        assertEquals(13, h.normaliseHostProcess(fault(13, 0x100000, 0, 0), fault(14, 0x100000, 4, top)).faultVector());
        assertEquals(13, h.normaliseHostProcess(fault(13, 0x100000, 0, 0), fault(14, 0x100004, 4, 0x7fff_ffff_fffdL)).faultVector());
        assertEquals(java.util.Map.of(DifferentialHarness.HostRule.TOP_PAGE_REPORTED_PRESENT, 1,
                DifferentialHarness.HostRule.FETCH_BIT_UNDER_NXE, 1, DifferentialHarness.HostRule.CANONICAL_END_OF_TOP_PAGE, 1),
                h.hostRules);
    }

    private static Outcome fault(long vector, long rip, long error, long cr2) {
        return new Outcome(new long[16], 2, new byte[DifferentialHarness.MEMORY_SIZE], vector, rip, error, cr2, new byte[0x100]);
    }
}
