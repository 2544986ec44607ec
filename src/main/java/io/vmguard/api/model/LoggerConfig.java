package io.vmguard.api.model;

import java.util.List;
import java.util.Locale;

/**
 * {@code PUT /logger}: where vmguard's log lines go ({@code log_path}, a file or named pipe opened for
 * append). {@code level} "Off" silences them; other levels, {@code show_level}, {@code show_log_origin} and
 * {@code module} are accepted for Firecracker clients and have no effect (vmguard's log has one level).
 */
public record LoggerConfig(String logPath, String level, Boolean showLevel, Boolean showLogOrigin, String module) {
    private static final List<String> LEVELS = List.of("error", "warning", "warn", "info", "debug", "trace", "off");

    public LoggerConfig {
        Fields.notBlank(logPath, "log_path");
        if (level != null && !LEVELS.contains(level.toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("field `level` must be one of Error, Warning, Info, Debug, Trace, Off, not '"
                    + level + "'");
        }
    }

    public boolean off() {
        return level != null && level.equalsIgnoreCase("off");
    }
}
