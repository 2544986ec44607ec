package io.vmguard.av.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ClamscanParseTest {
    @Test
    void foundLinesGiveNamesWithoutUnofficialAndOkGivesNone() {
        Map<Path, Set<String>> r = Clamscan.parse(List.of(
                "/c/a.bin: VMG.X.1.UNOFFICIAL FOUND", "/c/a.bin: VMG.Y.2.UNOFFICIAL FOUND", "/c/a.bin: VMG.X.1.UNOFFICIAL FOUND",
                "/c/b: c.bin: OK", "/c/d.bin: Official.Name FOUND", "/c/e.bin: Empty file"));
        assertEquals(Set.of(), r.get(Path.of("/c/e.bin")));
        assertEquals(Set.of("VMG.X.1", "VMG.Y.2"), r.get(Path.of("/c/a.bin")));
        assertEquals(Set.of(), r.get(Path.of("/c/b: c.bin")));
        assertEquals(Set.of("Official.Name"), r.get(Path.of("/c/d.bin")));
    }

    @Test
    void anErrorLineIsAFailureNotACleanFile() {
        assertThrows(IllegalStateException.class, () -> Clamscan.parse(List.of("/c/a.bin: Access denied. ERROR")));
    }
}
