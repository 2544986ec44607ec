package io.vmguard.devices.e1000;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.UnixDatagramBackend;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.testing.FuzzSeeds;
import io.vmguard.testing.GuestRam;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A guest that writes anything anywhere: random register writes and reads of every width on both BARs,
 * random descriptors (a fifth of them pointing outside RAM), random ring registers and doorbells, frames
 * arriving meanwhile. Nothing may throw out of the card, no doorbell may take long, and after a CTRL.RST the
 * card must transmit a good frame as if nothing had happened.
 */
class E1000FuzzTest {
    private static final int[] REGISTERS = {Reg.CTRL, Reg.STATUS, Reg.EECD, Reg.EERD, Reg.MDIC, Reg.ICR, Reg.ITR, Reg.ICS,
        Reg.IMS, Reg.IMC, Reg.RCTL, Reg.TCTL, Reg.RDBAL, Reg.RDBAH, Reg.RDLEN, Reg.RDH, Reg.RDT, Reg.TDBAL, Reg.TDBAH,
        Reg.TDLEN, Reg.TDH, Reg.TDT, Reg.VET, Reg.RA, Reg.RA + 4, Reg.MTA, Reg.GORCH, Reg.TPT};

    @TempDir
    Path dir;

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomRegistersAndDescriptorsNeverBreakTheCard(long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        GuestRam ram = new GuestRam(1 << 20);
        long region = ram.alloc(256 * 1024);
        try (Arena arena = Arena.ofShared();
             UnixDatagramBackend wire = UnixDatagramBackend.open(dir.resolve("peer.sock"), dir.resolve("vm.sock"))) {
            E1000 card = new E1000(ram.dma(), UnixDatagramBackend.open(dir.resolve("vm.sock"), dir.resolve("peer.sock")),
                    E1000Test.MAC, "fuzz");
            try {
                card.config().write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
                assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
                    for (int i = 0; i < FuzzSeeds.scaled(3000); i++) {
                        step(random, card, ram, region, arena, wire);
                    }
                }, FuzzSeeds.reproduce(seed));
                assertStillTransmits(card, ram, arena, wire, seed);
            } finally {
                card.close();
            }
        }
    }

    private static void step(SplittableRandom random, E1000 card, GuestRam ram, long region, Arena arena,
                             UnixDatagramBackend wire) throws Exception {
        switch (random.nextInt(10)) {
            case 0, 1, 2 -> { // a descriptor somewhere in the region
                long address = random.nextInt(5) == 0 ? ram.outside() + random.nextInt(1 << 20) : region + random.nextInt(1 << 17);
                ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(address).putInt(random.nextInt())
                        .putInt(random.nextInt());
                ram.memory().write(region + 16L * random.nextInt(4096), d.array());
            }
            case 3 -> { // ring registers aimed at the region, or anywhere
                boolean sane = random.nextBoolean();
                write(card, arena, random.nextBoolean() ? Reg.TDBAL : Reg.RDBAL, sane ? (int) region : random.nextInt());
                write(card, arena, random.nextBoolean() ? Reg.TDLEN : Reg.RDLEN, sane ? 128 * (1 + random.nextInt(64)) : random.nextInt());
            }
            case 4, 5 -> write(card, arena, REGISTERS[random.nextInt(REGISTERS.length)], random.nextInt());
            case 6 -> { // enable both directions and ring the doorbell
                write(card, arena, Reg.TCTL, Reg.TCTL_EN);
                write(card, arena, Reg.RCTL, Reg.RCTL_EN | Reg.RCTL_UPE | Reg.RCTL_LPE);
                write(card, arena, Reg.TDT, random.nextInt(1 << 12));
            }
            case 7 -> { // any width, any offset, either BAR
                int bar = random.nextBoolean() ? E1000.REGISTER_BAR : E1000.IO_BAR;
                long offset = random.nextLong(bar == E1000.REGISTER_BAR ? E1000.REGISTER_BAR_SIZE : E1000.IO_BAR_SIZE);
                MemorySegment data = arena.allocate(1 << random.nextInt(4));
                if (random.nextBoolean()) {
                    card.readBar(bar, offset, data);
                } else {
                    data.fill((byte) random.nextInt());
                    card.writeBar(bar, offset, data);
                }
            }
            case 8 -> { // a frame from the wire, of any size
                byte[] frame = new byte[14 + random.nextInt(2000)];
                random.nextBytes(frame);
                wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame));
            }
            default -> read(card, arena, REGISTERS[random.nextInt(REGISTERS.length)]);
        }
    }

    private static void assertStillTransmits(E1000 card, GuestRam ram, Arena arena, UnixDatagramBackend wire, long seed)
            throws Exception {
        MemorySegment drain = arena.allocate(70000);
        write(card, arena, Reg.CTRL, Reg.CTRL_RST);
        while (wire.receive(drain, Duration.ofMillis(100)) > 0) {
            // frames the fuzzing sent
        }
        long ring = ram.alloc(16 * 8);
        byte[] frame = E1000Test.frame(new byte[] {2, 0, 0, 0, 0, 9}, 200, 1);
        ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(ram.put(frame))
                .putInt(frame.length | Transmitter.CMD_EOP).putInt(0);
        ram.memory().write(ring, d.array());
        write(card, arena, Reg.TDBAL, (int) ring);
        write(card, arena, Reg.TDLEN, 128);
        write(card, arena, Reg.TCTL, Reg.TCTL_EN);
        write(card, arena, Reg.TDT, 1);
        int length = wire.receive(drain, Duration.ofSeconds(5));
        assertTrue(length > 0, "the card still transmits after a reset " + FuzzSeeds.reproduce(seed));
        assertArrayEquals(frame, drain.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE), FuzzSeeds.reproduce(seed));
    }

    private static void write(E1000 card, Arena arena, int register, int value) {
        card.writeBar(E1000.REGISTER_BAR, register, arena.allocateFrom(ValueLayout.JAVA_INT_UNALIGNED, value));
    }

    private static int read(E1000 card, Arena arena, int register) {
        MemorySegment data = arena.allocate(4);
        card.readBar(E1000.REGISTER_BAR, register, data);
        return data.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }
}
