package io.vmguard.av.match;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BodyPatternSmokeTest {
    @Test
    void literalPatternIsFoundAtEachOccurrence() throws Exception {
        MultiMatcher.Builder b = MultiMatcher.builder();
        b.add(BodyPattern.parse("6162"), OffsetRule.parse("*"), PatternOptions.NONE);
        MultiMatcher m = b.build();
        List<Long> starts = new ArrayList<>();
        byte[] d = "xabyab".getBytes();
        m.scan(MemorySegment.ofArray(d), FileLayout.raw(d.length), (id, s, e) -> starts.add(s) );
        assertEquals(List.of(1L, 4L), starts);
    }
}
