package io.vlm4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Typed, strict access to the fields of one JSON object of a model config: a field present with the wrong JSON type is
 * an error naming the file and the field ({@code prefix} + name, e.g. "text_config.hidden_size"), never a default.
 * HF configs treat an explicit null as a value (an error where a number is wanted, {@link #of}); open_clip configs
 * write null for "not set" ({@link #openClip}). Shared by the CLIP, SigLIP, BERT and open_clip config readers.
 */
public record ConfigFields(Path file, String prefix, JsonNode node, boolean nullIsAbsent) {

    /** The top level of an HF config (null is a value). */
    public static ConfigFields of(Path file, JsonNode node) {
        return new ConfigFields(file, "", node, false);
    }

    /** An open_clip config object under {@code prefix} (null means absent). */
    public static ConfigFields openClip(Path file, String prefix, JsonNode node) {
        return new ConfigFields(file, prefix, node, true);
    }

    /** What a reader builds from the top-level fields. */
    @FunctionalInterface
    public interface Reader<T> {
        T read(ConfigFields top) throws ModelFormatException;
    }

    /**
     * {@code reader} on the top level of {@code root}; a record's own check failing (an IllegalArgumentException: sizes
     * that do not fit together) becomes a ModelFormatException naming {@code file}.
     */
    public static <T> T read(Path file, JsonNode root, Reader<T> reader) throws ModelFormatException {
        try {
            return reader.read(of(file, root));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, e.getMessage(), e);
        }
    }

    /** The fields of {@code node}, an object under field {@code name} of this one (messages name it). */
    public ConfigFields at(String name, JsonNode node) {
        return new ConfigFields(file, prefix + name + ".", node, nullIsAbsent);
    }

    /** The object field {@code name}: absent or null gives an empty object (every field takes its default). */
    public ConfigFields child(String name) throws ModelFormatException {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) return at(name, JsonNodeFactory.instance.objectNode());
        if (!v.isObject()) throw typeError(name, "an object", v);
        return at(name, v);
    }

    /** A {@code model_type} present here must be {@code expected}. */
    public void expectModelType(String expected) throws ModelFormatException {
        Optional<String> type = optionalString("model_type");
        if (type.isPresent() && !type.get().equals(expected)) {
            throw new ModelFormatException(file, prefix + "model_type is '" + type.get() + "', expected '" + expected + "'");
        }
    }

    /** The value of {@code name}, or null when absent (or null, for open_clip). */
    public JsonNode get(String name) {
        JsonNode v = node.get(name);
        return v == null || nullIsAbsent && v.isNull() ? null : v;
    }

    public boolean has(String name) {
        JsonNode v = node.get(name);
        return v != null && !v.isNull();
    }

    /** An error about field {@code name}: "prefix.name: problem". */
    public ModelFormatException error(String name, String problem) {
        return new ModelFormatException(file, prefix + name + ": " + problem);
    }

    private ModelFormatException typeError(String name, String expected, JsonNode v) {
        return new ModelFormatException(file, prefix + name + " must be " + expected + ", got " + StrictJson.show(v));
    }

    public int integer(String name, int defaultValue) throws ModelFormatException {
        JsonNode v = get(name);
        if (v == null) return defaultValue;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw typeError(name, "an integer", v);
        return v.intValue();
    }

    /** An integer that must be present. */
    public int requiredInt(String name) throws ModelFormatException {
        if (!has(name)) throw error(name, "missing");
        return integer(name, 0);
    }

    /** An integer, or an [n, n] pair (configs may give square sizes either way; only square ones are supported). */
    public int square(String name, int defaultValue) throws ModelFormatException {
        JsonNode v = get(name);
        if (v == null || !v.isArray()) return integer(name, defaultValue);
        if (v.size() != 2 || !v.get(0).isIntegralNumber() || !v.get(0).canConvertToInt() || !v.get(1).equals(v.get(0))) {
            throw typeError(name, "an integer or two equal integers (only square sizes are supported)", v);
        }
        return v.get(0).intValue();
    }

    public double number(String name, double defaultValue) throws ModelFormatException {
        JsonNode v = get(name);
        if (v == null) return defaultValue;
        if (!v.isNumber() || !Double.isFinite(v.doubleValue())) throw typeError(name, "a finite number", v);
        return v.doubleValue();
    }

    public boolean bool(String name, boolean defaultValue) throws ModelFormatException {
        JsonNode v = get(name);
        if (v == null) return defaultValue;
        if (!v.isBoolean()) throw typeError(name, "true or false", v);
        return v.booleanValue();
    }

    public String string(String name, String defaultValue) throws ModelFormatException {
        return optionalString(name).orElse(defaultValue);
    }

    public Optional<String> optionalString(String name) throws ModelFormatException {
        JsonNode v = get(name);
        if (v == null) return Optional.empty();
        if (!v.isTextual()) throw typeError(name, "a string", v);
        return Optional.of(v.textValue());
    }

    /** The object field {@code name}, which must be present. */
    public JsonNode object(String name) throws ModelFormatException {
        JsonNode v = node.get(name);
        if (v == null) throw error(name, "missing");
        if (!v.isObject()) throw typeError(name, "an object", v);
        return v;
    }

    /** Every field must be one of {@code names}: {@code why} says why an unknown one is refused. */
    public void known(Set<String> names, String why) throws ModelFormatException {
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            String name = it.next().getKey();
            if (!names.contains(name)) throw error(name, why);
        }
    }
}
