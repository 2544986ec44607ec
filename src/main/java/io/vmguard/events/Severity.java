package io.vmguard.events;

import java.util.Locale;

/** How much an event matters: "info" (for the record), "warning" (something is off), "alarm" (act now). */
public enum Severity {
    INFO, WARNING, ALARM;

    /** The word in the event schema. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
