package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Decoder;
import io.vmguard.engine.interp.decode.HotForms;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.testing.FuzzSeeds;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The decoder on random bytes: every byte string a guest can put in front of RIP decodes to an instruction
 * (possibly {@link Op#INVALID}, which becomes #UD) or raises a guest fault; no Java exception escapes. The
 * bytes lean towards prefixes, REX and the 0F escapes, where the decoder has the most paths. Every mode's
 * decoding is fuzzed: 64-bit, 32-bit and 16-bit code (where 40-4F are INC/DEC and ModRM has 16-bit forms).
 */
class DecoderFuzzTest {
    private static final int STRINGS_PER_SEED = FuzzSeeds.scaled(200_000);
    private static final int PAGES_PER_SEED = FuzzSeeds.scaled(1_500);
    private static final int[] CODE_BITS = {64, 32, 16};
    private static final int[] PREFIXES = {0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0x40, 0x48, 0x4c, 0x41, 0x4f};

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomByteStringsDecodeToAnInstructionOrInvalidAndNeverThrow(long seed) {
        Random random = new Random(seed);
        for (int n = 0; n < STRINGS_PER_SEED; n++) {
            byte[] bytes = instructionLike(random);
            Decoder decoder = new Decoder(address -> bytes[(int) address] & 0xff);
            int bits = CODE_BITS[n % CODE_BITS.length];
            try {
                Instruction insn = decoder.decode(0, bits);
                assertTrue(insn.length >= 1 && insn.length <= Decoder.MAX_LENGTH, "length " + insn.length);
                assertEquals(bits, insn.codeBits);
                assertEquals(bits != 64, insn.legacy);
                HotForms.narrow(insn);
            } catch (GuestFault fault) {
                // Only an instruction longer than 15 bytes may fault here: the bytes are all readable.
                assertEquals(GuestFault.GP, fault.vector, () -> describe(seed, bytes));
            } catch (RuntimeException e) {
                fail("decoder threw on " + describe(seed, bytes), e);
            }
        }
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomCodePagesBuildIntoBlocksWithoutThrowing(long seed) {
        Random random = new Random(seed);
        BlockBuilder builder = new BlockBuilder();
        byte[] bytes = new byte[4096];
        for (int n = 0; n < PAGES_PER_SEED; n++) {
            fillInstructionLike(random, bytes);
            MemorySegment page = MemorySegment.ofArray(bytes);
            // Several starts per page, near the end too, where decoding meets the page boundary.
            for (int start : new int[] {0, random.nextInt(4096), 4096 - 1 - random.nextInt(16)}) {
                try {
                    Block block = builder.build(page, 0x100000L + start, CODE_BITS[n % CODE_BITS.length]);
                    if (block != null) {
                        assertTrue(block.instructions.length >= 1);
                    }
                } catch (GuestFault fault) {
                    assertEquals(GuestFault.GP, fault.vector);
                } catch (RuntimeException e) {
                    fail("block builder threw at offset " + start + " on seed " + seed + " page " + n + " "
                            + FuzzSeeds.reproduce(seed), e);
                }
            }
        }
    }

    /** Up to 20 bytes (more than the 15-byte limit): some prefixes, maybe an escape, then random bytes. */
    private static byte[] instructionLike(Random random) {
        byte[] bytes = new byte[20];
        random.nextBytes(bytes);
        int i = 0;
        int prefixes = random.nextInt(4) == 0 ? random.nextInt(16) : random.nextInt(3);
        for (int p = 0; p < prefixes && i < bytes.length; p++) {
            bytes[i++] = (byte) PREFIXES[random.nextInt(PREFIXES.length)];
        }
        if (i < bytes.length - 2 && random.nextBoolean()) {
            bytes[i++] = 0x0f;
            int escape = random.nextInt(4);
            if (escape == 0) {
                bytes[i] = 0x38;
            } else if (escape == 1) {
                bytes[i] = 0x3a;
            }
        }
        return bytes;
    }

    /** Fills {@code page} with instruction-like byte strings (also used by {@link RandomCodeFuzzTest}). */
    static void fillInstructionLike(Random random, byte[] page) {
        int i = 0;
        while (i < page.length) {
            byte[] insn = instructionLike(random);
            int length = Math.min(1 + random.nextInt(8), page.length - i);
            System.arraycopy(insn, 0, page, i, length);
            i += length;
        }
    }

    private static String describe(long seed, byte[] bytes) {
        return HexFormat.of().formatHex(bytes) + " on seed " + seed + " " + FuzzSeeds.reproduce(seed);
    }
}
