package io.vmguard.av.scan;

import io.vmguard.av.Detection;
import io.vmguard.av.LoadProblem;
import io.vmguard.av.db.BodySignature;
import io.vmguard.av.db.DatabaseContents;
import io.vmguard.av.db.HashKind;
import io.vmguard.av.db.HashTable;
import io.vmguard.av.db.LogicalSignature;
import io.vmguard.av.db.Target;
import io.vmguard.av.match.FileLayout;
import io.vmguard.av.match.MultiMatcher;
import io.vmguard.av.match.OffsetRule;
import io.vmguard.av.match.PatternOptions;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Loaded signatures compiled for scanning: hash indexes, and one {@link MultiMatcher} per target group (any,
 * PE, ELF, Mach-O) holding the group's .ndb signatures and .ldb subsignatures together, so an object is read
 * once per group that applies to it. Immutable and thread-safe: every scan keeps its state on its own.
 */
public final class SignatureEngine {
    private final HashTable fileHashes;
    private final HashTable sectionHashes;
    private final HashTable allowed;
    private final List<BodySignature> bodies;
    private final List<LogicalSignature> logicals;
    private final Map<Target, Group> groups = new EnumMap<>(Target.class);
    /** Logical signatures whose expression holds with no subsignature matched (e.g. {@code 0=0}). */
    private final int[] trueWhenNothingMatches;
    /**
     * The same as flags. clamscan reports a target-0 logical signature that holds with no match on every file,
     * whatever its subsignatures matched (it also evaluates target-0 signatures once with all counts zero):
     * {@code 1=0} fires on a file holding subsignature 1 twice. vmguard does the same so that verdicts agree;
     * real signatures are never true with nothing matched, so this only concerns contrived ones.
     */
    private final boolean[] alwaysTrue;
    private final boolean[] logicalOnMemory;
    /** Logical signatures a subsignature of which the matcher refused. */
    private final boolean[] disabled;
    private final List<LoadProblem> compileProblems = new ArrayList<>();
    private final boolean scansMemory;

    /**
     * One matcher and, for each of its pattern ids, what it stands for: an .ndb signature (subsignature -1) or
     * subsignature {@code sub} of a logical signature; {@code memory} says whether it applies to raw memory.
     */
    private record Group(MultiMatcher matcher, int[] signature, byte[] subsignature, boolean[] memory) {
    }

    public SignatureEngine(DatabaseContents contents) {
        fileHashes = contents.fileHashes.build();
        sectionHashes = contents.sectionHashes.build();
        allowed = contents.allowed.build();
        bodies = List.copyOf(contents.bodies);
        logicals = List.copyOf(contents.logicals);
        logicalOnMemory = new boolean[logicals.size()];
        disabled = new boolean[logicals.size()];
        boolean memory = false;
        Map<Target, GroupBuilder> builders = new EnumMap<>(Target.class);
        for (int i = 0; i < bodies.size(); i++) {
            BodySignature s = bodies.get(i);
            boolean raw = appliesToMemory(s.target(), s.offset());
            if (builders.computeIfAbsent(s.target(), t -> new GroupBuilder()).add(s.pattern(), s.offset(), PatternOptions.NONE, i, -1, raw)) {
                memory |= raw;
            } else {
                compileProblems.add(new LoadProblem(s.database(), 0, "signature " + s.name() + " could not be compiled, skipped"));
            }
        }
        List<Integer> always = new ArrayList<>();
        for (int i = 0; i < logicals.size(); i++) {
            LogicalSignature s = logicals.get(i);
            Target target = s.description().target();
            boolean raw = !s.description().needsFile()
                    && s.subsignatures().stream().allMatch(sub -> appliesToMemory(target, sub.offset()));
            boolean compiled = true;
            for (int sub = 0; sub < s.subsignatures().size(); sub++) {
                LogicalSignature.Subsignature ss = s.subsignatures().get(sub);
                compiled &= builders.computeIfAbsent(target, t -> new GroupBuilder()).add(ss.pattern(), ss.offset(), ss.options(), i, sub, raw);
            }
            if (!compiled) {
                // Subsignatures already added still count, but the signature is never evaluated.
                disabled[i] = true;
                compileProblems.add(new LoadProblem(s.database(), 0, "signature " + s.name() + " could not be compiled, skipped"));
                continue;
            }
            logicalOnMemory[i] = raw;
            memory |= raw;
            if (s.expression().matches(new int[0])) {
                always.add(i);
            }
        }
        trueWhenNothingMatches = always.stream().mapToInt(Integer::intValue).toArray();
        alwaysTrue = new boolean[logicals.size()];
        for (int i : trueWhenNothingMatches) {
            alwaysTrue[i] = true;
        }
        builders.forEach((target, b) -> groups.put(target, b.build()));
        scansMemory = memory;
    }

    /**
     * Raw memory has no file around it: only signatures for any target or ELF (Linux guest code) whose
     * offset is {@code *} say something about a window of it.
     */
    private static boolean appliesToMemory(Target target, OffsetRule offset) {
        return (target == Target.ANY || target == Target.ELF) && offset instanceof OffsetRule.Any;
    }

    private static final class GroupBuilder {
        private final MultiMatcher.Builder matcher = MultiMatcher.builder();
        private final List<int[]> refs = new ArrayList<>();
        private final List<Boolean> memory = new ArrayList<>();

        /** False when the matcher refuses the pattern (the parsers check first, so this is a safety net). */
        boolean add(io.vmguard.av.match.BodyPattern pattern, OffsetRule offset, PatternOptions options, int signature, int sub, boolean raw) {
            int id;
            try {
                id = matcher.add(pattern, offset, options);
            } catch (IllegalArgumentException e) {
                return false;
            }
            while (refs.size() <= id) {
                refs.add(null);
                memory.add(false);
            }
            refs.set(id, new int[] {signature, sub});
            memory.set(id, raw);
            return true;
        }

        Group build() {
            int n = refs.size();
            int[] signature = new int[n];
            byte[] sub = new byte[n];
            boolean[] raw = new boolean[n];
            for (int i = 0; i < n; i++) {
                int[] ref = refs.get(i);
                signature[i] = ref == null ? -1 : ref[0];
                sub[i] = (byte) (ref == null ? -1 : ref[1]);
                raw[i] = memory.get(i);
            }
            return new Group(matcher.build(), signature, sub, raw);
        }
    }

    public int signatureCount() {
        return (int) Math.min(Integer.MAX_VALUE, (long) bodies.size() + logicals.size() + fileHashes.size() + sectionHashes.size());
    }

    public long footprintBytes() {
        long total = fileHashes.footprintBytes() + sectionHashes.footprintBytes() + allowed.footprintBytes();
        for (Group g : groups.values()) {
            total += g.matcher().footprintBytes() + g.signature().length * 6L;
        }
        return total;
    }

    /** Signatures the matcher refused while compiling. */
    public List<LoadProblem> problems() {
        return List.copyOf(compileProblems);
    }

    public boolean scansMemory() {
        return scansMemory;
    }

    /**
     * Objects this small are clean without a look, as in ClamAV (checked with clamscan 1.4.6: a 5-byte file is
     * not scanned, not even hashed): otherwise logical signatures that hold with nothing matched would fire on
     * every empty or near-empty file.
     */
    static final long UNSCANNED_SIZE = 5;

    /** Scans an object as a file: hashes, body and logical signatures for its type, then the allow list. */
    public List<Detection> scanObject(MemorySegment data, boolean allMatches) {
        long size = data.byteSize();
        if (size <= UNSCANNED_SIZE) {
            return List.of();
        }
        Executable exe = Executable.inspect(data);
        List<Detection> found = new ArrayList<>();
        Map<HashKind, byte[]> digests = Digests.of(data, 0, size, fileHashes.kindsFor(size));
        for (HashTable.Entry s : fileHashes.lookup(size, digests)) {
            found.add(new Detection(s.name(), -1, s.database()));
            if (!allMatches) {
                return allow(data, found, digests);
            }
        }
        if (exe.type() == Target.PE && !sectionHashes.isEmpty()) {
            for (FileLayout.Section section : exe.layout().sections()) {
                if (section.size() == 0) {
                    continue;
                }
                Map<HashKind, byte[]> sectionDigests = Digests.of(data, section.offset(), section.size(), sectionHashes.kindsFor(section.size()));
                for (HashTable.Entry s : sectionHashes.lookup(section.size(), sectionDigests)) {
                    found.add(new Detection(s.name(), -1, s.database()));
                    if (!allMatches) {
                        return allow(data, found, digests);
                    }
                }
            }
        }
        BodyRun run = new BodyRun(allMatches, false);
        for (Target target : exe.type() == Target.ANY ? List.of(Target.ANY) : List.of(Target.ANY, exe.type())) {
            Group group = groups.get(target);
            if (group != null && !run.stopped) {
                group.matcher().scan(data, exe.layout(), (id, start, end) ->
                        run.match(group, id, start, end, 0, Long.MAX_VALUE));
            }
        }
        found.addAll(run.detections);
        if (allMatches || found.isEmpty()) {
            found.addAll(run.logical(exe, allMatches));
        }
        return allow(data, found, digests);
    }

    /** Scans a raw memory window with the signatures that apply to raw bytes. */
    public List<Detection> scanMemory(MemorySegment window) {
        return scanMemory(window, 0, window.byteSize());
    }

    /**
     * As {@link #scanMemory(MemorySegment)}, reporting only body matches that overlap {@code [focusStart,
     * focusEnd)}: the page being judged, in a window that also holds its neighbours. Every occurrence is
     * considered, so a copy of the same signature in a neighbour cannot hide the one in the focus.
     */
    public List<Detection> scanMemory(MemorySegment window, long focusStart, long focusEnd) {
        if (!scansMemory) {
            return List.of();
        }
        Executable raw = Executable.other(window.byteSize());
        BodyRun run = new BodyRun(true, true);
        for (Target target : List.of(Target.ANY, Target.ELF)) {
            Group group = groups.get(target);
            if (group != null) {
                group.matcher().scan(window, raw.layout(), (id, start, end) ->
                        run.match(group, id, start, end, focusStart, focusEnd));
            }
        }
        List<Detection> found = new ArrayList<>(run.detections);
        found.addAll(run.logical(raw, true));
        return found;
    }

    /** An allow-listed object is clean whatever matched (ClamAV's .fp/.sfp); its digests are computed only now. */
    private List<Detection> allow(MemorySegment data, List<Detection> found, Map<HashKind, byte[]> known) {
        if (found.isEmpty() || allowed.isEmpty()) {
            return found;
        }
        long size = data.byteSize();
        Set<HashKind> missing = allowed.kindsFor(size);
        missing.removeAll(known.keySet());
        Map<HashKind, byte[]> digests = new EnumMap<>(HashKind.class);
        digests.putAll(Digests.of(data, 0, size, missing));
        for (HashKind kind : allowed.kindsFor(size)) {
            if (known.containsKey(kind)) {
                digests.put(kind, known.get(kind));
            }
        }
        return allowed.lookup(size, digests).isEmpty() ? found : List.of();
    }

    /** The state of one body scan: detections so far, and subsignature counts of logical signatures. */
    private final class BodyRun {
        private final boolean allMatches;
        private final boolean memoryOnly;
        private final List<Detection> detections = new ArrayList<>();
        private Set<Integer> reported;
        private Map<Integer, int[]> counts;
        private Map<Integer, long[]> firstOffset;
        private boolean stopped;

        BodyRun(boolean allMatches, boolean memoryOnly) {
            this.allMatches = allMatches;
            this.memoryOnly = memoryOnly;
        }

        /** One occurrence; body matches outside {@code [focusStart, focusEnd)} are not this scan's to report. */
        boolean match(Group group, int id, long start, long end, long focusStart, long focusEnd) {
            if (id < 0 || id >= group.signature().length || (memoryOnly && !group.memory()[id])) {
                return true;
            }
            int signature = group.signature()[id];
            int sub = group.subsignature()[id];
            if (sub < 0) {
                if (end <= focusStart || start >= focusEnd) {
                    return true;
                }
                if (reported == null) {
                    reported = new HashSet<>();
                }
                if (reported.add(signature)) {
                    BodySignature s = bodies.get(signature);
                    detections.add(new Detection(s.name(), start, s.database(), end));
                    if (!allMatches) {
                        stopped = true;
                        return false;
                    }
                }
                return true;
            }
            if (counts == null) {
                counts = new HashMap<>();
                firstOffset = new HashMap<>();
            }
            int[] c = counts.computeIfAbsent(signature, k -> new int[logicals.get(k).subsignatures().size()]);
            if (c[sub] != -1) {
                c[sub]++;   // saturates at 2^32-1, read unsigned: ClamAV's counters are 32-bit too
            }
            long[] first = firstOffset.computeIfAbsent(signature, k -> new long[] {Long.MAX_VALUE});
            first[0] = Math.min(first[0], start);
            return true;
        }

        List<Detection> logical(Executable exe, boolean all) {
            List<Detection> found = new ArrayList<>();
            Set<Integer> candidates = new java.util.TreeSet<>();
            if (counts != null) {
                candidates.addAll(counts.keySet());
            }
            if (!memoryOnly) {
                for (int i : trueWhenNothingMatches) {
                    candidates.add(i);
                }
            }
            for (int i : candidates) {
                LogicalSignature s = logicals.get(i);
                if (disabled[i] || (memoryOnly && !logicalOnMemory[i])) {
                    continue;
                }
                Target target = s.description().target();
                if (target != Target.ANY && target != exe.type()) {
                    continue;
                }
                if (!s.description().admits(exe.layout().size(), exe.layout().entryPoint(), exe.sectionCount())) {
                    continue;
                }
                int[] c = counts == null ? new int[0] : counts.getOrDefault(i, new int[0]);
                if (s.expression().matches(c) || (!memoryOnly && target == Target.ANY && alwaysTrue[i])) {
                    long[] first = firstOffset == null ? null : firstOffset.get(i);
                    found.add(new Detection(s.name(), first == null ? 0 : first[0], s.database()));
                    if (!all) {
                        break;
                    }
                }
            }
            return found;
        }
    }
}
