package io.vmguard.testing;

/**
 * A system property set for the length of a try-with-resources block and put back as it was (or cleared)
 * at its end, for tests of a knob read from {@code -D...}: {@code try (var p = SystemProperty.set(NAME, "x")) {...}}.
 */
public final class SystemProperty implements AutoCloseable {
    private final String name;
    private final String before;

    private SystemProperty(String name, String before) {
        this.name = name;
        this.before = before;
    }

    public static SystemProperty set(String name, String value) {
        SystemProperty restore = new SystemProperty(name, System.getProperty(name));
        System.setProperty(name, value);
        return restore;
    }

    /** Changes the value again within the same block; the end still restores the value from before the block. */
    public void change(String value) {
        System.setProperty(name, value);
    }

    @Override
    public void close() {
        if (before == null) {
            System.clearProperty(name);
        } else {
            System.setProperty(name, before);
        }
    }
}
