package io.vmguard.av.match;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Many body patterns compiled once and matched together. (Step 1: a naive matcher that tries every
 * pattern at every allowed start; the prefiltered one replaces it.)
 */
public final class MultiMatcher {
    private final Program[] programs;
    private final OffsetRule[] rules;
    private final int size;

    private MultiMatcher(List<Program> programs, List<OffsetRule> rules, int size) {
        this.programs = programs.toArray(Program[]::new);
        this.rules = rules.toArray(OffsetRule[]::new);
        for (int i = 0; i < this.programs.length; i++) this.programs[i].index = i;
        this.size = size;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final List<Program> programs = new ArrayList<>();
        private final List<OffsetRule> rules = new ArrayList<>();
        private int next;

        /** Adds a pattern and returns its id (0, 1, 2... in the order of adding). */
        public int add(BodyPattern p, OffsetRule rule, PatternOptions o) {
            int id = next++;
            try {
                if (o.wide()) {
                    programs.add(new Program(id, p.variant(o.nocase(), true, o.fullword())));
                    rules.add(rule);
                }
                if (!o.wide() || o.ascii()) {
                    programs.add(new Program(id, p.variant(o.nocase(), false, o.fullword())));
                    rules.add(rule);
                }
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException(p.source() + ": " + e.getMessage());
            }
            return id;
        }

        public MultiMatcher build() {
            return new MultiMatcher(programs, rules, next);
        }
    }

    public int size() {
        return size;
    }

    public void scan(MemorySegment data, FileLayout layout, MatchSink sink) {
        Verifier v = new Verifier(data);
        for (int i = 0; i < programs.length; i++) {
            OffsetRule.Window w = rules[i].window(layout);
            if (w == null) continue;
            for (long s = w.first(); s <= Math.min(w.last(), data.byteSize() - 1); s++) {
                long e = v.matchAt(programs[i], s);
                if (e >= 0 && !sink.match(programs[i].id, s, e)) return;
            }
        }
    }

    public long footprintBytes() {
        long n = 0;
        for (Program p : programs) n += 64 + 4L * p.code.length + 8L * p.classes.length;
        return n;
    }
}
