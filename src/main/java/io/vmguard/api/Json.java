package io.vmguard.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.stream.Collectors;

/**
 * The API's JSON: snake_case names from the records' components, and strict reading, as Firecracker's
 * serde is: unknown fields, duplicate keys, trailing data and values of the wrong type (a string for a
 * number, a number for a string or a boolean, 1.5 for an integer) are refused with a one-line reason.
 */
public final class Json {
    /** Firecracker's prefix for every body it cannot read. */
    static final String PREFIX = "An error occurred when deserializing the json body of a request: ";

    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
            .withCoercionConfig(LogicalType.Textual, config -> config
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .build();

    private Json() {}

    /** Reads a request body as {@code type}, or says in one line why it cannot. */
    public static <T> T read(byte[] body, Class<T> type) throws ApiError {
        if (body.length == 0) {
            throw ApiError.badRequest("the request has no body; this request needs a JSON object");
        }
        try {
            T value = MAPPER.readValue(body, type);
            if (value == null) {
                throw ApiError.badRequest(PREFIX + "the body is null, not a JSON object");
            }
            return value;
        } catch (IOException e) {
            throw ApiError.badRequest(PREFIX + describe(e));
        }
    }

    public static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Jackson's messages name Java classes and source positions; a client needs the field and the fault. */
    private static String describe(IOException error) {
        return switch (error) {
            case UnrecognizedPropertyException unknown -> "unknown field `" + unknown.getPropertyName() + "`"
                    + where(unknown, 1) + ", expected one of " + unknown.getKnownPropertyIds().stream()
                            .map(id -> "`" + id + "`").sorted().collect(Collectors.joining(", "));
            case ValueInstantiationException invalid -> invalid.getCause() instanceof IllegalArgumentException cause
                    ? cause.getMessage() + where(invalid, 1)
                    : "invalid value" + where(invalid, 0);
            case InvalidFormatException format -> "invalid value " + format.getValue() + " for field " + path(format)
                    + expected(format);
            case MismatchedInputException mismatch -> "wrong type for field " + path(mismatch) + expected(mismatch);
            case InputCoercionException range -> "number out of range: " + range.getOriginalMessage();
            case JsonProcessingException syntax -> "malformed JSON: " + syntax.getOriginalMessage().lines().findFirst().orElse("");
            default -> error.getMessage();
        };
    }

    private static String path(JsonMappingException error) {
        String path = error.getPath().stream()
                .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
                .collect(Collectors.joining("."));
        return path.isEmpty() ? "(the body)" : "`" + path.replace(".[", "[") + "`";
    }

    /** " in `outer`" for an error inside a nested object, dropping the last {@code drop} path elements. */
    private static String where(JsonMappingException error, int drop) {
        var refs = error.getPath();
        if (refs.size() <= drop) {
            return "";
        }
        String outer = refs.subList(0, refs.size() - drop).stream()
                .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
                .collect(Collectors.joining("."));
        return " (in `" + outer.replace(".[", "[") + "`)";
    }

    private static String expected(MismatchedInputException error) {
        Class<?> type = error.getTargetType();
        if (type == null) {
            return "";
        }
        if (type.isEnum()) {
            Object[] names = type.getEnumConstants();
            return ": expected one of " + java.util.Arrays.stream(names).map(Object::toString).collect(Collectors.joining(", "));
        }
        String name = switch (type.getSimpleName()) {
            case "String" -> "a string";
            case "Integer", "Long", "int", "long" -> "an integer";
            case "Boolean", "boolean" -> "a boolean";
            case "List" -> "an array";
            case "Map" -> "an object";
            default -> "an object";
        };
        return ": expected " + name;
    }
}
