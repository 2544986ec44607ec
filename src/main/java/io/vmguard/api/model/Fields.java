package io.vmguard.api.model;

import java.util.List;

/** Checks shared by the request records; an {@link IllegalArgumentException} becomes a 400 with its message. */
final class Fields {
    private Fields() {}

    static <T> T required(T value, String field) {
        if (value == null) {
            throw new IllegalArgumentException("missing field `" + field + "`");
        }
        if (value instanceof String text && text.isBlank()) {
            throw new IllegalArgumentException("field `" + field + "` is empty");
        }
        return value;
    }

    static String notBlank(String value, String field) {
        if (value != null && value.isBlank()) {
            throw new IllegalArgumentException("field `" + field + "` is empty");
        }
        return value;
    }

    /** {@code value} if it is absent or one of {@code allowed}; Firecracker's enums are case-sensitive. */
    static String oneOf(String value, String field, List<String> allowed) {
        if (value != null && !allowed.contains(value)) {
            throw new IllegalArgumentException("field `" + field + "` must be one of " + String.join(", ", allowed)
                    + ", not '" + value + "'");
        }
        return value;
    }
}
