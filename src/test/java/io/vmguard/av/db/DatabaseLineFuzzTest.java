package io.vmguard.av.db;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Random mutations of valid database lines: parsing never throws anything but a reported problem. The seed is
 * printed, so a failure can be replayed with -Dvmguard.fuzzSeed=N.
 */
class DatabaseLineFuzzTest {
    private static final List<String> NDB = List.of(
            "Eicar:0:*:58354f2150254041505b345c505a",
            "Wild:0:10,20:4142??43{2-4}44*4546(47|48)!(49|4a)[1-3]4b",
            "Elf:6:EP+4,8:7f454c46??02",
            "Sec:6:S1+0:4142434445",
            "Se:1:SE2:a?b?c?",
            "End:0:EOF-10:(B)6162636465(L)",
            "Lvl:0:*:414243444546:51:255");
    private static final List<String> LDB = List.of(
            "L;Engine:51-255,Target:0;0&1;4142434445;4647484950",
            "L2;Engine:81-255,Target:6,FileSize:1-1000,EntryPoint:0-100;((0|1)>2,2)&2=0;0:4142;EOF-5:414243::iw;7f454c46",
            "L3;Engine:81-255,Target:0;(0|1|2)<3;616263::f;646566::a;676869::wia");
    private static final List<String> HASH = List.of(
            "44d88612fea8a8f36de82e1278abb02f:68:Eicar",
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:*:Eicar2:73",
            "512:23db1dd3f77fae25610b6a32701313ae:Sec");
    private static final String ALPHABET = "0123456789abcdef?*{}[]()|!-,:;+#$/\\ EPSLOFBWxX\0\n\r\u00ff";

    @Test
    void mutatedLinesNeverThrow() throws Exception {
        long seed = Long.getLong("vmguard.fuzzSeed", System.nanoTime());
        System.out.println("DatabaseLineFuzzTest seed " + seed);
        Random random = new Random(seed);
        int problems = 0;
        for (int round = 0; round < 2000; round++) {
            DbFormat format = switch (random.nextInt(4)) {
                case 0 -> DbFormat.BODY;
                case 1 -> DbFormat.LOGICAL;
                case 2 -> DbFormat.FILE_HASH;
                default -> DbFormat.SECTION_HASH;
            };
            List<String> seeds = format == DbFormat.BODY ? NDB : format == DbFormat.LOGICAL ? LDB : HASH;
            StringBuilder text = new StringBuilder();
            for (int line = 0; line < 8; line++) {
                text.append(mutate(seeds.get(random.nextInt(seeds.size())), random)).append('\n');
            }
            DatabaseLoader loader = new DatabaseLoader(null);
            try {
                loader.loadStream("fuzz", format, new ByteArrayInputStream(text.toString().getBytes(StandardCharsets.ISO_8859_1)), false);
                // Whatever loaded must also compile and scan.
                new io.vmguard.av.scan.SignatureEngine(loader.contents())
                        .scanObject(java.lang.foreign.MemorySegment.ofArray(text.toString().getBytes(StandardCharsets.ISO_8859_1)), true);
            } catch (RuntimeException | StackOverflowError e) {
                fail("seed " + seed + " round " + round + " threw " + e + " on:\n" + text, e);
            }
            problems += loader.problems().size();
        }
        assertTrue(problems > 0, "the mutations produced no malformed line at all");
    }

    private static String mutate(String line, Random random) {
        StringBuilder s = new StringBuilder(line);
        int edits = 1 + random.nextInt(4);
        for (int i = 0; i < edits; i++) {
            int at = s.isEmpty() ? 0 : random.nextInt(s.length());
            switch (random.nextInt(5)) {
                case 0 -> { if (!s.isEmpty()) s.deleteCharAt(at); }
                case 1 -> s.insert(at, ALPHABET.charAt(random.nextInt(ALPHABET.length())));
                case 2 -> { if (!s.isEmpty()) s.setCharAt(at, ALPHABET.charAt(random.nextInt(ALPHABET.length()))); }
                case 3 -> s.insert(at, s.substring(at, Math.min(s.length(), at + random.nextInt(12))));
                default -> s.insert(at, String.valueOf(random.nextInt(1 << random.nextInt(31))));
            }
        }
        return s.toString().replace("\n", "");
    }
}
