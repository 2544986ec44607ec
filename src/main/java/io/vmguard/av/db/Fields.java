package io.vmguard.av.db;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** Field splitting and number parsing the way ClamAV's loaders read them (empty fields kept, decimal digits only). */
final class Fields {
    private Fields() {
    }

    /** Splits at every {@code separator}; empty fields are kept, so "a::b" gives three fields. */
    static List<String> split(String line, char separator) {
        List<String> fields = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < line.length(); i++) {
            if (line.charAt(i) == separator) {
                fields.add(line.substring(start, i));
                start = i + 1;
            }
        }
        fields.add(line.substring(start));
        return fields;
    }

    /** ClamAV's cli_isnumber: one or more decimal digits, here also bounded so it fits a long. */
    static boolean isNumber(String text) {
        if (text.isEmpty() || text.length() > 18) {
            return false;
        }
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) < '0' || text.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    static long number(String text, String what) throws LineRejected.Malformed {
        if (!isNumber(text)) {
            throw LineRejected.malformed(what + " is not a decimal number: '" + shorten(text) + "'");
        }
        return Long.parseLong(text);
    }

    static boolean isHex(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (Character.digit(text.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    static byte[] hex(String text) {
        return HexFormat.of().parseHex(text);
    }

    /** Quotes a piece of a hostile line without flooding a terminal. */
    static String shorten(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length() && out.length() < 40; i++) {
            char c = text.charAt(i);
            out.append(c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\x%02x", (int) c & 0xff));
        }
        return text.length() > 40 ? out + "..." : out.toString();
    }
}
