package io.vmguard.engine.interp;

import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.events.GuestLog;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reports each instruction encoding the interpreter raised #UD for, once, with its bytes: gaps in the
 * interpreter must be visible, not silent (a guest may also raise #UD on purpose, e.g. UD2 in BUG()).
 *
 * <p>A guest can execute as many distinct invalid encodings as it likes, so the set of encodings already
 * reported is bounded ({@link #MAX_PATTERNS}); past it, every #UD goes to the rate-limited {@link GuestLog},
 * which prints a few and counts the rest.
 */
final class UnimplementedLog {
    static final int MAX_PATTERNS = 256;

    private final Set<String> reported = ConcurrentHashMap.newKeySet();
    private final AtomicLong raised = new AtomicLong();

    void report(Instruction insn, long rip) {
        if (insn.op == Op.UD2) {
            return; // deliberate
        }
        raised.incrementAndGet();
        String key = insn.bytes != null ? HexFormat.ofDelimiter(" ").formatHex(insn.bytes)
                : String.format("opcode %x prefix %x op %d", insn.opcode, insn.mandatoryPrefix, insn.op);
        if (reported.size() >= MAX_PATTERNS) {
            // No longer told apart: every one reaches the rate-limited log, which counts what it does not print.
            GuestLog.warn("interp.ud", String.format("interpreter: #UD for %s at rip 0x%x (more than %d distinct encodings "
                    + "seen, no longer tracked)", key, rip, MAX_PATTERNS));
        } else if (reported.add(key)) {
            GuestLog.warn("interp.ud", String.format("interpreter: #UD for %s at rip 0x%x (unimplemented or invalid)", key, rip));
        }
    }

    /** #UDs raised for encodings other than UD2, reported or not. */
    long raised() {
        return raised.get();
    }

    /** Distinct encodings remembered (at most {@link #MAX_PATTERNS}). */
    int patterns() {
        return reported.size();
    }
}
