package io.vmguard.vmi.integrity;

import java.util.Map;

/**
 * One integrity violation: which check saw it, what changed (old and new), where.
 *
 * @param check   the check's name, also the event's kind ("syscall-table", "idt", "kernel-text", ...)
 * @param subject what exactly changed, stable across passes ("entry 110", "vcpu0 vector 0", "page 0x1234000"),
 *                so a violation that persists is reported once
 * @param details old and new values, addresses, symbols: the event's details
 */
public record Finding(String check, String subject, String summary, Map<String, Object> details) {
    public Finding {
        details = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(details));
    }

    /** Identity across passes: the same check on the same subject. */
    public String key() {
        return check + "|" + subject;
    }
}
