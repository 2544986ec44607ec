package io.vmguard.engine.interp;

import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reports each instruction encoding the interpreter raised #UD for, once, with its bytes: gaps in the
 * interpreter must be visible, not silent (a guest may also raise #UD on purpose, e.g. UD2 in BUG()).
 */
final class UnimplementedLog {
    private final Set<String> reported = ConcurrentHashMap.newKeySet();

    void report(Instruction insn, long rip) {
        if (insn.op == Op.UD2) {
            return; // deliberate
        }
        String key = insn.bytes != null ? HexFormat.ofDelimiter(" ").formatHex(insn.bytes)
                : String.format("opcode %x prefix %x op %d", insn.opcode, insn.mandatoryPrefix, insn.op);
        if (reported.add(key)) {
            System.err.printf("vmguard: interpreter: #UD for %s at rip 0x%x (unimplemented or invalid)%n", key, rip);
        }
    }
}
