package io.vmguard.virtio.block;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * One disk as the user asked for it: a raw image file, whether the guest may write it, and the serial
 * (device ID) the guest reads with GET_ID, e.g. in /sys/block/vda/serial.
 *
 * @param serial printable ASCII, at most {@link #MAX_SERIAL_BYTES} bytes
 */
public record DiskConfig(Path path, boolean readOnly, String serial) {
    /** The virtio-blk device ID string holds at most 20 bytes. */
    public static final int MAX_SERIAL_BYTES = 20;

    private static final String USAGE = "FILE[,readonly|ro][,serial=ID]";

    public DiskConfig {
        Objects.requireNonNull(path);
        idBytes(Objects.requireNonNull(serial));
    }

    /** A disk with the serial derived from the file name. */
    public DiskConfig(Path path, boolean readOnly) {
        this(path, readOnly, defaultSerial(path));
    }

    /**
     * Parses the command-line form {@code FILE[,readonly|ro][,serial=ID]}. The file name runs to the first
     * comma, so an image whose name holds a comma must be renamed or linked. Only the syntax is checked
     * here; the file itself is checked when it is opened ({@link DiskImage#open}).
     *
     * @throws IllegalArgumentException with a one-line message
     */
    public static DiskConfig parse(String text) {
        String[] parts = text.split(",", -1);
        if (parts[0].isEmpty()) {
            throw new IllegalArgumentException("disk '" + text + "' names no file (use " + USAGE + ")");
        }
        Path path = Path.of(parts[0]);
        boolean readOnly = false;
        String serial = null;
        for (int i = 1; i < parts.length; i++) {
            String option = parts[i];
            if (option.equals("readonly") || option.equals("ro")) {
                readOnly = true;
            } else if (option.startsWith("serial=")) {
                serial = option.substring("serial=".length());
            } else {
                throw new IllegalArgumentException("disk option '" + option + "' is not known (use " + USAGE + ")");
            }
        }
        return serial == null ? new DiskConfig(path, readOnly) : new DiskConfig(path, readOnly, serial);
    }

    /**
     * The file name, with anything but printable ASCII replaced by '_' and cut to 20 bytes, so that two
     * disks from different files can usually be told apart in the guest.
     */
    public static String defaultSerial(Path path) {
        Path name = path.getFileName();
        String text = name == null ? "disk" : name.toString();
        StringBuilder serial = new StringBuilder();
        for (int i = 0; i < text.length() && serial.length() < MAX_SERIAL_BYTES; i++) {
            char c = text.charAt(i);
            serial.append(c > ' ' && c < 0x7f ? c : '_');
        }
        return serial.toString();
    }

    /** The ID as the guest reads it: NUL-padded to 20 bytes (no NUL when it is exactly 20 long). */
    public byte[] serialBytes() {
        return idBytes(serial);
    }

    /**
     * {@code serial} as a device ID.
     *
     * @throws IllegalArgumentException when it is not a valid serial
     */
    static byte[] idBytes(String serial) {
        String problem = serialProblem(serial);
        if (problem != null) {
            throw new IllegalArgumentException("disk serial '" + serial + "' " + problem);
        }
        byte[] id = new byte[MAX_SERIAL_BYTES];
        byte[] text = serial.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(text, 0, id, 0, text.length);
        return id;
    }

    private static String serialProblem(String serial) {
        if (serial.length() > MAX_SERIAL_BYTES) {
            return "is longer than " + MAX_SERIAL_BYTES + " bytes";
        }
        for (int i = 0; i < serial.length(); i++) {
            char c = serial.charAt(i);
            if (c <= ' ' || c >= 0x7f) {
                return "must be printable ASCII without spaces";
            }
        }
        return null;
    }
}
