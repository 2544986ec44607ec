package io.vmguard.av.db;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;

/**
 * The 512-byte header of a .cvd/.cld/.cud: {@code ClamAV-VDB:time:version:signatures:flevel:md5:dsig:builder:stime},
 * space-padded. {@code md5} is the MD5 of everything after the header; {@code dsig} is Talos's RSA signature of
 * that MD5 ({@code X} in an unsigned .cud).
 */
public record CvdHeader(String buildTime, long version, long signatures, long functionalityLevel, String md5,
        String signature, String builder) {
    public static final int SIZE = 512;

    /**
     * ClamAV's database signing key (libclamav/dsig.c, CLI_NSTR and CLI_ESTR): a .cvd's dsig field, read as a
     * little-endian base-64 number, raised to e modulo n, must give the header's MD5.
     */
    private static final BigInteger MODULUS = new BigInteger(
            "1186409955516453426030700016584531897515277744120277437465994057432431426074641447673610606406558447"
            + "4976078889002228342492276248891756555100246777110966959818941043469903453223222862159108950817859142"
            + "8456220796841621637175567590476666928698770143328137383952820383197532047771780196576957695822641224262693037");
    private static final BigInteger EXPONENT = new BigInteger("100001027");
    private static final String DIGITS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

    static CvdHeader parse(byte[] block) throws LineRejected.Malformed {
        String text = new String(block, StandardCharsets.ISO_8859_1);
        int end = text.length();
        while (end > 0 && (text.charAt(end - 1) == ' ' || text.charAt(end - 1) == '\n' || text.charAt(end - 1) == 0)) {
            end--;
        }
        List<String> f = Fields.split(text.substring(0, end), ':');
        if (!f.get(0).equals("ClamAV-VDB") || f.size() < 7) {
            throw LineRejected.malformed("not a ClamAV database container (no 'ClamAV-VDB:' header with 7 or more fields)");
        }
        String md5 = f.get(5);
        if (md5.length() != 32 || !Fields.isHex(md5)) {
            throw LineRejected.malformed("the header's MD5 field is not 32 hex digits");
        }
        return new CvdHeader(f.get(1), Fields.number(f.get(2), "the version"), Fields.number(f.get(3), "the signature count"),
                Fields.number(f.get(4), "the functionality level"), md5.toLowerCase(java.util.Locale.ROOT), f.get(6),
                f.size() > 7 ? f.get(7) : "");
    }

    /** Whether {@link #signature()} is Talos's signature of {@link #md5()} (cli_versig). */
    public boolean signedByTalos() {
        if (signature.isEmpty() || signature.length() > 400) {
            return false;
        }
        BigInteger c = BigInteger.ZERO;
        for (int i = signature.length() - 1; i >= 0; i--) {
            int digit = DIGITS.indexOf(signature.charAt(i));
            if (digit < 0) {
                return false;
            }
            c = c.shiftLeft(6).add(BigInteger.valueOf(digit));
        }
        BigInteger plain = c.modPow(EXPONENT, MODULUS);
        return plain.bitLength() <= 128 && plain.equals(new BigInteger(1, HexFormat.of().parseHex(md5)));
    }
}
