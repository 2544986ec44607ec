package io.vmguard.tpm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * What vmguard measures before the guest's first instruction, in the places GRUB and firmware use (so
 * existing verifiers read it): PCR 0 gets the S-CRTM version ("vmguard"), PCR 9 the SHA-256 of the kernel
 * file and of the initrd file as given ({@code EV_IPL}), PCR 8 the SHA-256 of the command line's bytes
 * (UTF-8, no terminator; the event data is GRUB's: "kernel_cmdline: " and the command line, NUL-terminated), and PCRs 0-7 a separator (four zero
 * bytes) each, the firmware's "measurements end here". Every extend is logged ({@link EventLog}).
 */
public final class MeasuredBoot {
    public static final int PCR_CRTM = 0;
    public static final int PCR_COMMAND_LINE = 8;
    public static final int PCR_KERNEL = 9;
    static final byte[] CRTM_VERSION = "vmguard".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] SEPARATOR = new byte[4];
    /** GRUB's prefix for the command line's event; verifiers (tpm2_eventlog) hash what follows the first space. */
    static final String COMMAND_LINE_PREFIX = "kernel_cmdline: ";

    /** Sends commands to the TPM; the response's code must be success. */
    @FunctionalInterface
    public interface Tpm {
        byte[] execute(byte[] command) throws IOException;
    }

    private MeasuredBoot() {}

    /** The measurements of a boot of {@code kernel}, {@code initrd} (may be null) and {@code commandLine}, as a log. */
    public static EventLog plan(Path kernel, Path initrd, String commandLine) throws IOException {
        EventLog log = new EventLog();
        log.add(new EventLog.Event(PCR_CRTM, EventLog.EV_S_CRTM_VERSION, sha256(CRTM_VERSION), CRTM_VERSION));
        log.add(new EventLog.Event(PCR_KERNEL, EventLog.EV_IPL, sha256(kernel), text("kernel")));
        if (initrd != null) {
            log.add(new EventLog.Event(PCR_KERNEL, EventLog.EV_IPL, sha256(initrd), text("initrd")));
        }
        log.add(new EventLog.Event(PCR_COMMAND_LINE, EventLog.EV_IPL, sha256(commandLine.getBytes(StandardCharsets.UTF_8)),
                text(COMMAND_LINE_PREFIX + commandLine)));
        for (int pcr = 0; pcr <= 7; pcr++) {
            log.add(new EventLog.Event(pcr, EventLog.EV_SEPARATOR, sha256(SEPARATOR), SEPARATOR));
        }
        return log;
    }

    /**
     * Starts a freshly powered-on TPM (TPM2_Startup(CLEAR)), extends every event of {@code log} into it, and
     * closes the platform hierarchy, as firmware would before handing over.
     */
    public static void perform(Tpm tpm, EventLog log) throws TpmException, IOException {
        check(tpm, TpmCodec.startupClear(), "TPM2_Startup");
        for (EventLog.Event event : log.events()) {
            check(tpm, TpmCodec.pcrExtend(event.pcr(), event.digest()), "TPM2_PCR_Extend(" + event.pcr() + ")");
        }
        check(tpm, TpmCodec.disablePlatformHierarchy(), "TPM2_HierarchyControl(platform)");
    }

    private static void check(Tpm tpm, byte[] command, String what) throws TpmException, IOException {
        int code = TpmCodec.responseCode(tpm.execute(command));
        if (code != TpmCodec.RC_SUCCESS) {
            throw new TpmException(what + " failed: TPM response code 0x" + Integer.toHexString(code));
        }
    }

    /** EV_IPL event data is a NUL-terminated string (as GRUB logs it); the digest is over the text without the NUL. */
    private static byte[] text(String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(bytes, bytes.length + 1);
    }

    static byte[] sha256(byte[] bytes) {
        return EventLog.sha256().digest(bytes);
    }

    static byte[] sha256(Path file) throws IOException {
        MessageDigest digest = EventLog.sha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return digest.digest();
    }
}
