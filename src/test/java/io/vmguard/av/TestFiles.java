package io.vmguard.av;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Test inputs built byte by byte: EICAR, a small ELF64 and PE32, tar archives and ClamAV containers. */
public final class TestFiles {
    public static final String EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    public static final String EICAR_MD5 = "44d88612fea8a8f36de82e1278abb02f";
    public static final String EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

    /** Where the synthetic ELF's entry point and sections lie, as file offsets. */
    public static final int ELF_ENTRY = 0x100;
    public static final int ELF_TEXT = 0x100;
    public static final int ELF_TEXT_SIZE = 0x40;
    public static final int ELF_DATA = 0x140;
    public static final int ELF_DATA_SIZE = 0x20;
    public static final int ELF_SIZE = 0x300;

    private TestFiles() {
    }

    public static byte[] eicar() {
        return EICAR.getBytes(StandardCharsets.ISO_8859_1);
    }

    public static String hex(String text) {
        return HexFormat.of().formatHex(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    public static String digest(String algorithm, byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(data));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * An ELF64 executable: one PT_LOAD mapping the file at 0x400000, entry 0x400100 (file offset 0x100); section
     * headers NULL, .text at 0x100 ("ENTRYCODE..."), .data at 0x140 ("DATASECT...").
     */
    public static byte[] elf() {
        ByteBuffer b = ByteBuffer.allocate(ELF_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1);
        b.putLong(24, 0x400000L + ELF_ENTRY).putLong(32, 64).putLong(40, 0x200);
        b.putShort(52, (short) 64).putShort(54, (short) 56).putShort(56, (short) 1);
        b.putShort(58, (short) 64).putShort(60, (short) 3).putShort(62, (short) 0);
        // Program header 0: PT_LOAD, offset 0, vaddr 0x400000, filesz = memsz = the file.
        b.putInt(64, 1).putInt(68, 5).putLong(72, 0).putLong(80, 0x400000L).putLong(88, 0x400000L)
                .putLong(96, ELF_SIZE).putLong(104, ELF_SIZE).putLong(112, 0x1000);
        b.put(ELF_TEXT, "ENTRYCODE-text-section".getBytes(StandardCharsets.ISO_8859_1));
        b.put(ELF_DATA, "DATASECT-data".getBytes(StandardCharsets.ISO_8859_1));
        // Section headers at 0x200: [0] NULL, [1] .text, [2] .data.
        section(b, 0x200 + 64, 1, ELF_TEXT, ELF_TEXT_SIZE);
        section(b, 0x200 + 128, 1, ELF_DATA, ELF_DATA_SIZE);
        return b.array();
    }

    private static void section(ByteBuffer b, int at, int type, long offset, long size) {
        b.putInt(at + 4, type).putLong(at + 24, offset).putLong(at + 32, size);
    }

    /** A PE32 with one section .text (raw 0x200..0x400, RVA 0x1000), entry RVA 0x1010 = file offset 0x210. */
    public static byte[] pe32(byte[] sectionContent) {
        return pe(sectionContent, false);
    }

    /** The same as a PE32+ (x86-64): a longer optional header, the section table after it. */
    public static byte[] pe32plus(byte[] sectionContent) {
        return pe(sectionContent, true);
    }

    private static byte[] pe(byte[] sectionContent, boolean plus) {
        ByteBuffer b = ByteBuffer.allocate(0x400).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) 'M').put(1, (byte) 'Z').putInt(0x3c, 0x40);
        int optionalSize = plus ? 0xf0 : 0xe0;
        b.putInt(0x40, 0x00004550).putShort(0x44, (short) (plus ? 0x8664 : 0x14c)).putShort(0x46, (short) 1)
                .putShort(0x54, (short) optionalSize).putShort(0x56, (short) 0x0102);
        int opt = 0x58;
        b.putShort(opt, (short) (plus ? 0x20b : 0x10b)).putInt(opt + 16, 0x1010).putInt(opt + 32, 0x1000)
                .putInt(opt + 36, 0x200).putInt(opt + 56, 0x2000).putInt(opt + 60, 0x200).putInt(opt + (plus ? 108 : 92), 16);
        int sec = opt + optionalSize;
        b.put(sec, ".text".getBytes(StandardCharsets.ISO_8859_1));
        b.putInt(sec + 8, 0x200).putInt(sec + 12, 0x1000).putInt(sec + 16, 0x200).putInt(sec + 20, 0x200)
                .putInt(sec + 36, 0x60000020);
        b.put(0x200, sectionContent, 0, Math.min(sectionContent.length, 0x200));
        return b.array();
    }

    /** A ustar archive of the given members, in order. */
    public static byte[] tar(Map<String, byte[]> members) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Map.Entry<String, byte[]> m : members.entrySet()) {
            byte[] header = new byte[512];
            put(header, 0, m.getKey());
            put(header, 100, "0000644\0");
            put(header, 108, "0000000\0");
            put(header, 116, "0000000\0");
            put(header, 124, String.format("%011o\0", m.getValue().length));
            put(header, 136, "00000000000\0");
            header[156] = '0';
            put(header, 257, "ustar\0");
            put(header, 263, "00");
            for (int i = 148; i < 156; i++) {
                header[i] = ' ';
            }
            int sum = 0;
            for (byte x : header) {
                sum += x & 0xff;
            }
            put(header, 148, String.format("%06o\0 ", sum));
            out.write(header);
            out.write(m.getValue());
            out.write(new byte[(512 - m.getValue().length % 512) % 512]);
        }
        out.write(new byte[1024]);
        return out.toByteArray();
    }

    private static void put(byte[] header, int at, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(bytes, 0, header, at, bytes.length);
    }

    public static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }

    /** A container: the 512-byte header (MD5 of the body unless given) then the body. */
    public static byte[] container(byte[] body, String md5OrNull, String dsig) {
        String md5 = md5OrNull != null ? md5OrNull : digest("MD5", body);
        String header = "ClamAV-VDB:04 Dec 2026 21-00 +0000:1:3:216:" + md5 + ":" + dsig + ":vmguard:1796418000";
        byte[] out = new byte[512 + body.length];
        java.util.Arrays.fill(out, 0, 512, (byte) ' ');
        byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(h, 0, out, 0, h.length);
        System.arraycopy(body, 0, out, 512, body.length);
        return out;
    }

    public static Path write(Path dir, String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.ISO_8859_1);
    }

    public static Path write(Path dir, String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content);
    }
}
