package io.vlm4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Strict JSON for model files: UTF-8 only, one value and nothing but whitespace after it, no duplicate keys,
 * no NaN/Infinity, no comments or single quotes. A file that a lenient parser would silently "fix" is more
 * likely damaged than meant, so it is rejected with the parser's reason.
 */
public final class StrictJson {
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    private StrictJson() {}

    /** A JSON config larger than this is not a config: refused before it is read. */
    public static final long MAX_CONFIG_BYTES = 16L << 20;

    /**
     * Reads a JSON object config file ({@code what}, e.g. "model config", for the messages): a missing file is a
     * {@link java.nio.file.NoSuchFileException} saying "no what", one over {@link #MAX_CONFIG_BYTES} a
     * {@link ModelFormatException}, then {@link #parseObject}.
     */
    public static JsonNode readConfig(Path file, String what) throws java.io.IOException {
        if (!java.nio.file.Files.isRegularFile(file)) throw new java.nio.file.NoSuchFileException(file.toString(), null, "no " + what);
        long size = java.nio.file.Files.size(file);
        if (size > MAX_CONFIG_BYTES) {
            throw new ModelFormatException(file, what + " is " + size + " bytes; that is not a " + file.getFileName());
        }
        return parseObject(file, what, java.nio.file.Files.readAllBytes(file));
    }

    /**
     * Parses {@code bytes} (the {@code what} of {@code file}, e.g. "header") and requires a JSON object.
     * Integers beyond the long range come back as BigInteger nodes, so callers see them rather than a wrapped value.
     */
    public static JsonNode parseObject(Path file, String what, byte[] bytes) throws ModelFormatException {
        JsonNode node = parse(file, what, bytes);
        if (!node.isObject()) {
            throw new ModelFormatException(file, what + " must be a JSON object, found a JSON " + kind(node));
        }
        return node;
    }

    /** {@link #parseObject} for any JSON value (an array of texts, say). */
    public static JsonNode parse(Path file, String what, byte[] bytes) throws ModelFormatException {
        String text;
        try {
            // Decode first: Jackson would otherwise guess UTF-16/32 from the first bytes.
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(file, what + " is not valid UTF-8");
        }
        JsonNode node;
        try {
            node = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file, what + " is not valid JSON: " + describe(e), e);
        }
        if (node == null || node.isMissingNode()) throw new ModelFormatException(file, what + " is empty");
        return node;
    }

    /** Jackson's reason and position, without its "[Source: ...]" boilerplate. */
    private static String describe(JsonProcessingException e) {
        String reason = e.getOriginalMessage().replaceAll("\\s*\\(for [^()]*\\[Source:.*", "").strip();
        var at = e.getLocation();
        return at == null ? reason : reason + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }

    /** "array", "string", "number", ... for messages. */
    public static String kind(JsonNode node) {
        return switch (node.getNodeType()) {
            case ARRAY -> "array";
            case OBJECT, POJO -> "object";
            case STRING -> "string";
            case NUMBER -> node.isIntegralNumber() ? "integer" : "number";
            case BOOLEAN -> "boolean";
            case NULL -> "null";
            default -> node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }

    /** A short rendering of a value for messages, cut at 60 characters. */
    public static String show(JsonNode node) {
        String s = node.toString();
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
