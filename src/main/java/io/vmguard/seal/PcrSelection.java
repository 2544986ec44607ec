package io.vmguard.seal;

import java.util.ArrayList;
import java.util.List;

/**
 * Which SHA-256 PCRs of the owner's sealing TPM a data key is bound to, as a mask (bit n = PCR n). Only PCRs
 * 0-15: the sealing TPM is powered for each seal and unseal, and only those are kept across its power
 * cycles (TPM2_Shutdown/Startup(STATE)); 16-23 would start at zeros (or be resettable) every time.
 */
public final class PcrSelection {
    static final int ALLOWED = 0xffff;

    private PcrSelection() {}

    /** Parses "0,7" (or "" for none) into a mask; a one-line error for anything else. */
    public static int parse(String text) {
        int mask = 0;
        if (text.isBlank()) {
            return 0;
        }
        for (String part : text.split(",")) {
            int pcr;
            try {
                pcr = Integer.parseInt(part.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--seal-pcrs takes PCR numbers separated by commas (such as 0,7), not '" + text + "'");
            }
            if (pcr < 0 || pcr > 15) {
                throw new IllegalArgumentException("--seal-pcrs: PCR " + pcr + " cannot bind a key (0-15 only: the sealing TPM "
                        + "keeps only those across its power cycles)");
            }
            mask |= 1 << pcr;
        }
        return mask;
    }

    /** The PCR numbers in {@code mask}, lowest first. */
    public static List<Integer> pcrs(int mask) {
        List<Integer> pcrs = new ArrayList<>();
        for (int pcr = 0; pcr < 24; pcr++) {
            if ((mask & (1 << pcr)) != 0) {
                pcrs.add(pcr);
            }
        }
        return pcrs;
    }
}
