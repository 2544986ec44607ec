package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.vmguard.engine.Registers;
import io.vmguard.engine.VcpuExit;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * REP MOVS and STOS move whole runs of elements at once through RAM pages, with the semantics of one element
 * at a time: a fault in the middle leaves RCX, RSI and RDI at the faulting element with the elements before it
 * done; a destination ahead of its source repeats the pattern as element-by-element copying does; DF set runs
 * backwards; an element crossing a page and a destination in device memory take the element path. Each result
 * is checked against an element-by-element model of the instruction. (IntegerDifferentialTest compares the same
 * instructions against the host CPU on short and long runs.)
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class RepStringRunsTest {
    private static final long SOURCE = 0x10000, TWO_MIB = 0x200000;

    private static byte[] pattern(int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 7 + 3 + (i >> 8));
        }
        return bytes;
    }

    /** RAM 0x10000..0x20000 as the model sees it, after element-by-element MOVS of {@code count} elements of {@code size}. */
    private static byte[] modelMovs(byte[] ram, long si, long di, long count, int size, boolean down) {
        byte[] out = ram.clone();
        for (long i = 0; i < count; i++) {
            byte[] element = Arrays.copyOfRange(out, (int) (si - SOURCE), (int) (si - SOURCE) + size); // read, then write
            System.arraycopy(element, 0, out, (int) (di - SOURCE), size);
            si += down ? -size : size;
            di += down ? -size : size;
        }
        return out;
    }

    private static byte[] area(ModeRig rig) {
        return rig.machine.memory.readBytes(SOURCE, 0x10000);
    }

    @Test
    void aFaultInTheMiddleOfARunLeavesTheRegistersAtTheFaultingElement() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            byte[] source = pattern(300);
            rig.machine.memory.write(SOURCE, source);
            rig.gate64(14, ModeRig.CODE + 0x100, 0);
            VcpuExit exit = rig.runLong("""
                    movq $0x10000, %rsi
                    movq $0x1fff9c, %rdi      /* 100 bytes below the end of the mapped 2 MiB */
                    movq $300, %rcx
                    cld
                    rep movsb
                    hlt
                    .org 0x100                /* #PF */
                    hlt
                    """);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            Registers registers = rig.machine.vcpu.registers();
            assertEquals(200, registers.rcx(), "RCX counts the elements not done");
            assertEquals(SOURCE + 100, registers.rsi());
            assertEquals(TWO_MIB, registers.rdi(), "RDI at the faulting element");
            assertEquals(TWO_MIB, rig.machine.vcpu.specialRegisters().cr2());
            assertArrayEquals(Arrays.copyOf(source, 100), rig.machine.memory.readBytes(TWO_MIB - 100, 100),
                    "the elements before the fault were copied");
        }
    }

    @Test
    void aDestinationAheadOfItsSourceRepeatsThePatternAcrossPagesAsElementsWould() throws Exception {
        for (String[] c : new String[][] {{"3", "rep movsb", "1", "5000"}, {"12", "rep movsq", "8", "700"},
                {"-5", "rep movsb", "1", "6000"}, {"4", "rep movsl", "4", "1500"}, {"2", "rep movsl", "4", "900"}}) {
            try (ModeRig rig = new ModeRig()) {
                rig.machine.memory.write(SOURCE, pattern(0x10000));
                long di = SOURCE + 0x100 + Long.parseLong(c[0]);
                int size = Integer.parseInt(c[2]);
                long count = Long.parseLong(c[3]);
                byte[] expected = modelMovs(area(rig), SOURCE + 0x100, di, count, size, false);
                VcpuExit exit = rig.runLong("movq $0x10100, %rsi\nmovq $" + di + ", %rdi\nmovq $" + count + ", %rcx\ncld\n"
                        + c[1] + "\nhlt\n");
                assertInstanceOf(VcpuExit.Halt.class, exit);
                assertArrayEquals(expected, area(rig), String.join(" ", c));
                Registers registers = rig.machine.vcpu.registers();
                assertEquals(0, registers.rcx());
                assertEquals(SOURCE + 0x100 + count * size, registers.rsi());
                assertEquals(di + count * size, registers.rdi());
            }
        }
    }

    @Test
    void withDfSetTheCopyRunsDownward() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            rig.machine.memory.write(SOURCE, pattern(0x10000));
            byte[] expected = modelMovs(area(rig), SOURCE + 0x5000, SOURCE + 0x5004, 2000, 8, true);
            VcpuExit exit = rig.runLong("movq $0x15000, %rsi\nmovq $0x15004, %rdi\nmovq $2000, %rcx\nstd\nrep movsq\ncld\nhlt\n");
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertArrayEquals(expected, area(rig));
            assertEquals(SOURCE + 0x5000 - 2000 * 8, rig.machine.vcpu.registers().rsi());
        }
    }

    @Test
    void stosFillsWithItsPatternAcrossAPageEvenWithAnElementOnTheBoundary() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            rig.machine.memory.write(SOURCE, pattern(0x10000));
            byte[] expected = area(rig);
            long value = 0x1122_3344_5566_7788L;
            long di = SOURCE + 0xffc; // the first qword crosses into the next page
            for (int i = 0; i < 1000; i++) {
                for (int b = 0; b < 8; b++) {
                    expected[(int) (di - SOURCE) + 8 * i + b] = (byte) (value >>> (8 * b));
                }
            }
            VcpuExit exit = rig.runLong("movabsq $0x1122334455667788, %rax\nmovq $" + di
                    + ", %rdi\nmovq $1000, %rcx\ncld\nrep stosq\nmovq $0x17003, %rdi\nmovl $0xa5, %eax\nmovq $5000, %rcx\nrep stosb\nhlt\n");
            assertInstanceOf(VcpuExit.Halt.class, exit);
            Arrays.fill(expected, 0x7003, 0x7003 + 5000, (byte) 0xa5);
            assertArrayEquals(expected, area(rig));
            assertEquals(0x17003 + 5000, rig.machine.vcpu.registers().rdi());
        }
    }

    @Test
    void aRunIntoDeviceMemoryReachesTheDeviceElementByElementInOrder() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            byte[] source = pattern(32);
            rig.machine.memory.write(SOURCE, source);
            VcpuExit exit = rig.runLong("""
                    movq $0x200087, %rax      /* map 2-4 MiB, beyond RAM: device memory */
                    movq %rax, 0x22008
                    movq $0x10000, %rsi
                    movq $0x1ffff0, %rdi      /* 16 bytes of RAM, then 16 into the device */
                    movq $32, %rcx
                    cld
                    rep movsb
                    hlt
                    """);
            ByteArrayOutputStream device = new ByteArrayOutputStream();
            long next = TWO_MIB;
            while (exit instanceof VcpuExit.MmioWrite(long address, java.lang.foreign.MemorySegment data)) {
                assertEquals(next, address, "device writes in order, each once");
                device.writeBytes(data.toArray(ValueLayout.JAVA_BYTE));
                next = address + data.byteSize();
                exit = rig.machine.vcpu.run();
            }
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertArrayEquals(Arrays.copyOf(source, 16), rig.machine.memory.readBytes(TWO_MIB - 16, 16));
            assertArrayEquals(Arrays.copyOfRange(source, 16, 32), device.toByteArray());
            assertEquals(0, rig.machine.vcpu.registers().rcx());
        }
    }
}
