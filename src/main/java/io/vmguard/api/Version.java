package io.vmguard.api;

/** vmguard's version, as {@code GET /} and {@code GET /version} report it and {@code vmguard --version} prints. */
public final class Version {
    public static final String NUMBER = "0.1.0";
    public static final String APP_NAME = "vmguard";

    private Version() {}
}
