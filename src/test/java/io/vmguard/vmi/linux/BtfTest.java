package io.vmguard.vmi.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.vmi.VmiException;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class BtfTest {
    /** A blob with every kind 1..19 and a task_struct whose fields sit in nested anonymous members. */
    static byte[] sampleBlob() {
        return sample();
    }

    private static byte[] sample() {
        BtfBlobBuilder b = new BtfBlobBuilder();
        int integer = b.add(1, "int", 0, false, 4, 1 << 24 | 32);                         // 1 INT (signed)
        int pointer = b.add(2, "", 0, false, 0);                                          // 2 PTR to void
        int character = b.add(1, "char", 0, false, 1, 2 << 24 | 8);                      // 3 INT (char)
        int comm = b.add(3, "", 0, false, 0, character, integer, 16);                    // 4 ARRAY char[16]
        int listHead = b.add(4, "list_head", 2, false, 16,
                b.name("next"), pointer, 0, b.name("prev"), pointer, 64);                // 5 STRUCT
        int inner = b.add(4, "", 2, false, 16,
                b.name("tasks"), listHead, 0, b.name("unused"), integer, 0);             // 6 anonymous STRUCT
        int union = b.add(5, "", 2, false, 16,
                b.name(""), inner, 0, b.name("pad"), comm, 0);                           // 7 anonymous UNION
        int state = b.add(6, "pid_type", 2, false, 4,
                b.name("PIDTYPE_PID"), 0, b.name("PIDTYPE_TGID"), 1);                    // 8 ENUM
        int links = b.add(3, "", 0, false, 0, listHead, integer, 4);                     // 9 ARRAY list_head[4]
        int task = b.add(4, "task_struct", 6, true, 128,
                b.name("pid"), integer, 0,
                b.name(""), union, 64,
                b.name("comm"), comm, 192,
                b.name("flags"), integer, 3 << 24 | 320,                                 // a 3-bit bitfield
                b.name("pid_links"), links, 512,
                b.name("type"), state, 1024 - 32);                                       // 10 STRUCT, kflag
        b.add(7, "mm_struct", 0, false, 0);                                              // 11 FWD
        int typedef = b.add(8, "pid_t", 0, false, integer);                              // 12 TYPEDEF
        int volatileType = b.add(9, "", 0, false, typedef);                              // 13 VOLATILE
        int constType = b.add(10, "", 0, false, volatileType);                           // 14 CONST
        b.add(11, "", 0, false, pointer);                                                // 15 RESTRICT
        int proto = b.add(13, "", 2, false, integer,
                b.name("regs"), pointer, b.name("nr"), integer);                          // 16 FUNC_PROTO
        b.add(12, "x64_sys_call", 1, false, proto);                                      // 17 FUNC global
        int taskPointer = b.add(2, "", 0, false, task);                                  // 18 PTR to task_struct
        int current = b.add(14, "current_task", 0, false, taskPointer, 1);               // 19 VAR
        int other = b.add(14, "cpu_number", 0, false, constType, 1);                     // 20 VAR
        b.add(15, ".data..percpu", 2, false, 0x30000,
                current, 0x2c000, 8, other, 0x2c008, 4);                                 // 21 DATASEC
        b.add(16, "double", 0, false, 8);                                                // 22 FLOAT
        b.add(17, "noinline", 0, false, task, -1);                                       // 23 DECL_TAG
        b.add(18, "rcu", 0, false, task);                                                // 24 TYPE_TAG
        b.add(19, "big", 1, true, 8, b.name("BIG_VALUE"), 0x89ab_cdef, 0x0123_4567);     // 25 ENUM64
        return b.build();
    }

    @Test
    void everyKindIsParsedIntoItsRecord() throws VmiException {
        Btf btf = BtfParser.parse(sample());
        assertEquals(25, btf.count());
        List<Class<?>> kinds = List.of(BtfType.Int.class, BtfType.Ptr.class, BtfType.Int.class, BtfType.Array.class,
                BtfType.Struct.class, BtfType.Struct.class, BtfType.Union.class, BtfType.Enum.class,
                BtfType.Array.class, BtfType.Struct.class, BtfType.Fwd.class, BtfType.Typedef.class,
                BtfType.Volatile.class, BtfType.Const.class, BtfType.Restrict.class, BtfType.FuncProto.class,
                BtfType.Func.class, BtfType.Ptr.class, BtfType.Var.class, BtfType.Var.class, BtfType.DataSec.class,
                BtfType.Float.class, BtfType.DeclTag.class, BtfType.TypeTag.class, BtfType.Enum64.class);
        for (int id = 1; id <= kinds.size(); id++) {
            assertInstanceOf(kinds.get(id - 1), btf.type(id), "type " + id);
        }
        assertEquals(new BtfType.Int("char", 1, 2, 0, 8), btf.type(3));
        assertEquals(new BtfType.DeclTag("noinline", 10, -1), btf.type(23));
        assertEquals(0x0123_4567_89ab_cdefL, ((BtfType.Enum64) btf.type(25)).values().getFirst().value());
        assertEquals(List.of(new BtfType.Parameter("regs", 2), new BtfType.Parameter("nr", 1)),
                ((BtfType.FuncProto) btf.type(16)).parameters());
        assertEquals(4, btf.sizeOf(14), "const volatile pid_t resolves to int");
    }

    @Test
    void memberOffsetsGoThroughAnonymousStructsAndUnionsAndArrays() throws VmiException {
        KernelTypes types = new KernelTypes(BtfParser.parse(sample()));
        assertEquals(0, types.offsetOf("task_struct", "pid"));
        assertEquals(8, types.offsetOf("task_struct", "tasks"), "task_struct -> anonymous union -> anonymous struct");
        assertEquals(16, types.offsetOf("task_struct", "tasks.prev"));
        assertEquals(24, types.offsetOf("task_struct", "comm"));
        assertEquals(16, types.field("task_struct", "comm").size());
        assertEquals(16, types.arrayLength("task_struct", "comm"));
        assertEquals(64 + 2 * 16, types.offsetOf("task_struct", "pid_links[2]"));
        assertEquals(64 + 16 + 8, types.offsetOf("task_struct", "pid_links[1].prev"));
        assertEquals(3, types.field("task_struct", "flags").bitfieldSize());
        assertEquals(128, types.sizeOf("task_struct"));
        assertFalse(types.has("task_struct", "mm"));
        VmiException missing = assertThrows(VmiException.class, () -> types.offsetOf("task_struct", "tasks.nope"));
        assertTrue(missing.getMessage().contains("tasks.nope"), missing.getMessage());
        assertThrows(VmiException.class, () -> types.composite("mm_struct"), "a FWD is not a definition");
        assertThrows(VmiException.class, () -> types.offsetOf("task_struct", "pid_links[4]"));
    }

    @Test
    void enumsAndPerCpuVariablesAreFoundByName() throws VmiException {
        KernelTypes types = new KernelTypes(BtfParser.parse(sample()));
        assertEquals(OptionalLong.of(1), types.enumValue("PIDTYPE_TGID"));
        assertEquals(Optional.of("PIDTYPE_TGID"), types.enumName(types.field("task_struct", "type").type(), 1));
        assertEquals(OptionalLong.of(0x2c000), types.perCpuOffset("current_task"));
        assertEquals(OptionalLong.of(0x2c008), types.perCpuOffset("cpu_number"));
        assertTrue(types.perCpuOffset("jiffies").isEmpty());
    }

    @Test
    void anUnknownKindStopsTheParseNamingTheType() {
        BtfBlobBuilder b = new BtfBlobBuilder();
        b.add(1, "int", 0, false, 4, 32);
        b.add(20, "future", 0, false, 0);
        VmiException failure = assertThrows(VmiException.class, () -> BtfParser.parse(b.build()));
        assertEquals("BTF type 2 has unknown kind 20 (this reader knows kinds 1..19)", failure.getMessage());
    }

    @Test
    void truncatedOrCorruptBlobsAreCleanFailures() {
        byte[] blob = sample();
        for (int cut : new int[] {0, 10, 24, 100, blob.length - 1}) {
            assertThrows(VmiException.class, () -> BtfParser.parse(Arrays.copyOf(blob, cut)), "cut at " + cut);
        }
        byte[] badMagic = blob.clone();
        badMagic[0] = 0;
        assertThrows(VmiException.class, () -> BtfParser.parse(badMagic));
        byte[] hugeVlen = blob.clone();
        hugeVlen[24 + 4] = (byte) 0xff; // first record's vlen low byte
        hugeVlen[24 + 5] = (byte) 0xff;
        hugeVlen[24 + 7] = 4; // and kind STRUCT: 65535 members cannot fit
        assertThrows(VmiException.class, () -> BtfParser.parse(hugeVlen));
    }

    @Test
    void aTypedefCycleIsAFailureNotAHang() throws VmiException {
        BtfBlobBuilder b = new BtfBlobBuilder();
        b.add(8, "a", 0, false, 2);
        b.add(8, "b", 0, false, 1);
        Btf btf = BtfParser.parse(b.build());
        assertThrows(VmiException.class, () -> btf.sizeOf(1));
    }
}
