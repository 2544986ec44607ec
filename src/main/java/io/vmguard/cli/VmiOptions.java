package io.vmguard.cli;

import io.vmguard.vmi.integrity.IntegrityMonitor;
import io.vmguard.vmm.IntrospectionSettings;
import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine.Option;

/** How {@code run} and {@code serve} introspect their VM: the integrity monitor and whether writes are allowed. */
public final class VmiOptions {
    @Option(names = "--vmi-monitor", description = "watch the guest kernel's integrity from outside: baseline when init "
            + "starts, then trapped and periodic checks; violations are vmi alarms on the event stream")
    boolean monitor;

    @Option(names = "--vmi-period", paramLabel = "DURATION", defaultValue = "1s",
            description = "how often the monitor checks what the engine cannot trap (e.g. 1s, 500ms; default ${DEFAULT-VALUE})")
    String period;

    @Option(names = "--vmi-action", paramLabel = "alert|pause", defaultValue = "alert",
            description = "on a violation: alert only, or also pause the VM for inspection (default ${DEFAULT-VALUE})")
    String action;

    @Option(names = "--vmi-baseline", paramLabel = "init|manual", defaultValue = "init",
            description = "take the baseline when the guest's init starts, or only when asked (PUT /vmi/baseline)")
    String baseline;

    @Option(names = "--vmi-allow-writes",
            description = "let API clients write guest memory through introspection (off: introspection only reads)")
    boolean allowWrites;

    IntrospectionSettings settings() throws CliException {
        IntegrityMonitor.Action onViolation = switch (action.toLowerCase(Locale.ROOT)) {
            case "alert" -> IntegrityMonitor.Action.ALERT;
            case "pause" -> IntegrityMonitor.Action.PAUSE;
            default -> throw new CliException("--vmi-action must be alert or pause, not '" + action + "'");
        };
        IntegrityMonitor.BaselinePoint baselineAt = switch (baseline.toLowerCase(Locale.ROOT)) {
            case "init" -> IntegrityMonitor.BaselinePoint.INIT;
            case "manual" -> IntegrityMonitor.BaselinePoint.MANUAL;
            default -> throw new CliException("--vmi-baseline must be init or manual, not '" + baseline + "'");
        };
        Duration every = parseDuration(period);
        if (every.toMillis() < 10 || every.toHours() > 24) {
            throw new CliException("--vmi-period must be between 10ms and 24h, not '" + period + "'");
        }
        return new IntrospectionSettings(monitor, new IntegrityMonitor.Settings(every, onViolation, baselineAt, 60),
                allowWrites);
    }

    /** "1s", "250ms", "2m": a number and a unit. */
    static Duration parseDuration(String text) throws CliException {
        var match = java.util.regex.Pattern.compile("(\\d{1,9})(ms|s|m|h)").matcher(text.trim());
        if (!match.matches()) {
            throw new CliException("'" + text + "' is not a duration (write e.g. 1s, 500ms, 2m)");
        }
        long amount = Long.parseLong(match.group(1));
        return switch (match.group(2)) {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            default -> Duration.ofHours(amount);
        };
    }
}
