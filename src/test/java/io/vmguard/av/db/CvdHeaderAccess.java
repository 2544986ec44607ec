package io.vmguard.av.db;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Test access to the package-private header parser. */
public final class CvdHeaderAccess {
    private CvdHeaderAccess() {
    }

    public static boolean signedByTalos(String header) throws LineRejected.Malformed {
        byte[] block = new byte[CvdHeader.SIZE];
        Arrays.fill(block, (byte) ' ');
        byte[] text = header.getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(text, 0, block, 0, text.length);
        return CvdHeader.parse(block).signedByTalos();
    }
}
