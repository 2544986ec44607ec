package io.vmguard.vmi.linux;

import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.memory.GuestMemory;
import io.vmguard.testing.FuzzSeeds;
import io.vmguard.vmi.GuestPhysicalMemory;
import io.vmguard.vmi.PageSize;
import io.vmguard.vmi.PageTableBuilder;
import io.vmguard.vmi.PageTableWalker;
import io.vmguard.vmi.TestRam;
import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Guest-controlled bytes (page tables, BTF, kallsyms tables) fed to the readers mutated at random: each read
 * either succeeds or fails with a {@link VmiException}; no other exception, no hang.
 */
class GuestDataFuzzTest {
    private static final long TEXT = 0xffff_ffff_8100_0000L;

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void mutatedBtfParsesOrFailsCleanly(long seed) {
        Random random = new Random(seed);
        byte[] sample = BtfTest.sampleBlob();
        for (int i = 0; i < FuzzSeeds.scaled(2000); i++) {
            byte[] blob = sample.clone();
            for (int m = 1 + random.nextInt(4); m > 0; m--) {
                blob[random.nextInt(blob.length)] = (byte) random.nextInt(256);
            }
            try {
                KernelTypes types = new KernelTypes(BtfParser.parse(blob));
                types.offsetOf("task_struct", "pid_links[1].prev");
            } catch (VmiException expected) {
                // a clean failure
            } catch (RuntimeException e) {
                fail("iteration " + i + " " + FuzzSeeds.reproduce(seed), e);
            }
        }
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomPageTablesTranslateOrFailQuietly(long seed) {
        Random random = new Random(seed);
        GuestMemory ram = TestRam.of(1 << 20);
        GuestPhysicalMemory physical = new GuestPhysicalMemory(ram);
        for (int i = 0; i < FuzzSeeds.scaled(200); i++) {
            for (int w = 0; w < 64; w++) {
                // entries that often point back into this small RAM, sometimes far outside it
                long entry = random.nextBoolean() ? (random.nextLong() & 0x000f_ffff_ffff_ffffL)
                        : ((random.nextInt(256) * 4096L) | random.nextInt(0x200));
                ram.writeLong(random.nextInt(256) * 4096L + random.nextInt(512) * 8L, entry | (random.nextBoolean() ? 1 : 0));
            }
            PageTableWalker walker = new PageTableWalker(physical, random.nextInt(256) * 4096L, random.nextBoolean());
            try {
                for (int t = 0; t < 64; t++) {
                    walker.translate(random.nextLong());
                }
                walker.mappedRanges(0xffff_ffff_8000_0000L, 0xffff_ffff_c000_0000L);
            } catch (RuntimeException e) {
                fail("iteration " + i + " " + FuzzSeeds.reproduce(seed), e);
            }
        }
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void mutatedKallsymsTablesDecodeOrFailCleanly(long seed) {
        Random random = new Random(seed);
        byte[] blob = SyntheticKallsyms.build(KallsymsTest.entries(300)).bytes();
        GuestMemory ram = TestRam.of(8 << 20);
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        tables.mapRange(TEXT, 0x20_0000, 4 << 20, PageSize.SIZE_2M);
        for (int i = 0; i < FuzzSeeds.scaled(40); i++) {
            byte[] mutated = blob.clone();
            for (int m = 1 + random.nextInt(3); m > 0; m--) {
                mutated[random.nextInt(mutated.length)] = (byte) random.nextInt(256);
            }
            ram.write(0x21_0000, mutated);
            GuestPhysicalMemory physical = new GuestPhysicalMemory(ram);
            VirtualMemory memory = new VirtualMemory(physical, new PageTableWalker(physical, tables.root(), false));
            try {
                KallsymsTables found = KallsymsFinder.find(memory,
                        memory.walker().mappedRanges(0xffff_ffff_8000_0000L, 0xffff_ffff_c000_0000L));
                KallsymsDecoder.decode(memory, found);
            } catch (VmiException expected) {
                // a clean failure
            } catch (RuntimeException e) {
                fail("iteration " + i + " " + FuzzSeeds.reproduce(seed), e);
            }
        }
    }
}
