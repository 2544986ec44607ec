package io.vmguard.cli;

import io.vmguard.vmi.linux.Symbol;
import io.vmguard.vmi.linux.SymbolTable;
import io.vmguard.vmm.GuestProfiler;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A guest profile by function ({@code vmguard run --profile FILE --profile-symbols System.map}): samples per
 * kernel symbol, user-space addresses (the lower half) as one line, halted vCPUs as another, vCPU threads in
 * the VMM serving a device access as a third, most first.
 * Without symbols, by 4 KiB page of code.
 */
final class ProfileReport {
    static final String USER = "[user space]";
    static final String HALTED = "[halted]";
    static final String IN_DEVICE = "[in the VMM: port or MMIO access]";

    record Line(String where, long samples) {}

    private ProfileReport() {}

    static List<Line> lines(GuestProfiler.Profile profile, Optional<SymbolTable> symbols) {
        Map<String, Long> byFunction = new HashMap<>();
        profile.samples().forEach((rip, count) -> byFunction.merge(function(rip, symbols), count, Long::sum));
        if (profile.halted() > 0) {
            byFunction.merge(HALTED, profile.halted(), Long::sum);
        }
        if (profile.inDevice() > 0) {
            byFunction.merge(IN_DEVICE, profile.inDevice(), Long::sum);
        }
        if (profile.dropped() > 0) {
            byFunction.merge("[addresses past the profile's bound]", profile.dropped(), Long::sum);
        }
        List<Line> lines = new ArrayList<>();
        byFunction.forEach((where, count) -> lines.add(new Line(where, count)));
        lines.sort((a, b) -> a.samples() != b.samples() ? Long.compare(b.samples(), a.samples()) : a.where().compareTo(b.where()));
        return lines;
    }

    static String function(long rip, Optional<SymbolTable> symbols) {
        if (rip >= 0) { // the lower half: user space (or a kernel before paging, which a profile window rarely sees)
            return USER;
        }
        return symbols.flatMap(table -> table.containing(rip)).map(Symbol::name)
                .orElse("0x" + Long.toHexString(rip & ~0xfffL) + " (page)");
    }

    /** The report: a header with the totals, then "percent samples where" per line. */
    static String render(GuestProfiler.Profile profile, Optional<SymbolTable> symbols) {
        long total = profile.total();
        StringBuilder out = new StringBuilder();
        out.append("# guest profile: ").append(total).append(" samples, one per vCPU every ")
                .append(profile.period().toNanos() / 1000).append(" us");
        profile.instructions().ifPresent(count -> out.append("; ").append(count).append(" guest instructions"));
        out.append('\n');
        for (Line line : lines(profile, symbols)) {
            out.append(String.format("%6.2f%% %9d %s%n", total > 0 ? 100.0 * line.samples() / total : 0.0, line.samples(), line.where()));
        }
        return out.toString();
    }
}
