package io.vmguard.testing;

/** Finding a marker in bytes: the tests that prove guest secrets are, or are not, in a file or in memory. */
public final class ByteSearch {
    private ByteSearch() {}

    /** How often {@code needle} occurs in {@code haystack}, overlapping occurrences included. */
    public static int count(byte[] haystack, byte[] needle) {
        int found = 0;
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            found++;
        }
        return found;
    }
}
