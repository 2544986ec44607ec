package io.vmguard.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * An initramfs with files added: the built image's archive followed by a second, gzip-compressed "newc"
 * cpio archive holding them. Linux unpacks concatenated archives in order, later files replacing earlier
 * ones, so a guest test can run the guest script as the repository has it now, whichever image the suite
 * was given. Files go into directories the image already has; each is a regular file, mode 755.
 */
public final class InitramfsOverlay {
    private static final String TRAILER = "TRAILER!!!";

    private InitramfsOverlay() {}

    /**
     * Writes to {@code target} the archive {@code base} with {@code files} (path inside the guest, without the
     * leading slash, to content) appended.
     */
    public static Path write(Path base, Map<String, byte[]> files, Path target) throws IOException {
        try (OutputStream out = Files.newOutputStream(target)) {
            Files.copy(base, out);
            ByteArrayOutputStream cpio = new ByteArrayOutputStream();
            int inode = 0x7000;
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                entry(cpio, inode++, 0100755, file.getKey(), file.getValue());
            }
            entry(cpio, 0, 0, TRAILER, new byte[0]);
            try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
                cpio.writeTo(gzip);
            }
        }
        return target;
    }

    /** One newc entry: a 110-byte ASCII header, the name with its NUL, the data, each padded to 4 bytes. */
    private static void entry(ByteArrayOutputStream out, int inode, int mode, String name, byte[] data) {
        byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.US_ASCII);
        int[] fields = {inode, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0};
        StringBuilder header = new StringBuilder("070701");
        for (int field : fields) {
            header.append(String.format("%08x", field));
        }
        out.writeBytes(header.toString().getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(nameBytes);
        pad(out);
        out.writeBytes(data);
        pad(out);
    }

    private static void pad(ByteArrayOutputStream out) {
        while (out.size() % 4 != 0) {
            out.write(0);
        }
    }
}
