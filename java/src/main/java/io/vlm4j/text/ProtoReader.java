package io.vlm4j.text;

import io.vlm4j.io.ModelFormatException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A minimal reader of the protobuf wire format (protobuf.dev/programming-guides/encoding), enough for SentencePiece's
 * {@code ModelProto}: varints, length-delimited fields, fixed32/fixed64, and skipping of unknown fields (groups
 * included). It reads {@code data[from, to)}; every error is a {@link ModelFormatException} naming the file and the
 * absolute byte offset, never an index exception.
 */
final class ProtoReader {
    static final int VARINT = 0, FIXED64 = 1, LEN = 2, START_GROUP = 3, END_GROUP = 4, FIXED32 = 5;
    private static final int MAX_GROUP_DEPTH = 64;

    private final byte[] data;
    private final Path file;
    private final int end;
    private int pos;
    private int tagAt;  // where the last tag started, for wire-type errors

    ProtoReader(byte[] data, Path file) {
        this(data, file, 0, data.length);
    }

    private ProtoReader(byte[] data, Path file, int from, int to) {
        this.data = data;
        this.file = file;
        this.pos = from;
        this.end = to;
    }

    boolean hasMore() {
        return pos < end;
    }

    int offset() {
        return pos;
    }

    /** The next field's tag: field number {@code tag >>> 3}, wire type {@code tag & 7}. */
    int tag() throws ModelFormatException {
        int at = tagAt = pos;
        long tag = varint();
        if ((tag >>> 3) == 0 || (tag >>> 3) > 0x1FFFFFFF) throw error(at, "field number " + (tag >>> 3) + " is out of range");
        return (int) tag;
    }

    long varint() throws ModelFormatException {
        int at = pos;
        long value = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (pos >= end) throw error(at, "varint runs past the end of the data");
            int b = data[pos++] & 0xFF;
            value |= (long) (b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw error(at, "varint is longer than 10 bytes");
    }

    /** An int32 field: negative values come as 10-byte varints and are truncated to 32 bits, as protobuf does. */
    int int32() throws ModelFormatException {
        return (int) varint();
    }

    boolean bool() throws ModelFormatException {
        return varint() != 0;
    }

    float fixed32Float() throws ModelFormatException {
        if (end - pos < 4) throw error(pos, "fixed32 runs past the end of the data");
        int bits = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8 | (data[pos + 2] & 0xFF) << 16 | (data[pos + 3] & 0xFF) << 24;
        pos += 4;
        return Float.intBitsToFloat(bits);
    }

    /** A length-delimited field's payload as a reader over it (offsets stay absolute). */
    ProtoReader message() throws ModelFormatException {
        int len = length();
        ProtoReader sub = new ProtoReader(data, file, pos, pos + len);
        pos += len;
        return sub;
    }

    byte[] bytes() throws ModelFormatException {
        int len = length();
        byte[] out = java.util.Arrays.copyOfRange(data, pos, pos + len);
        pos += len;
        return out;
    }

    /** A string field, which must be valid UTF-8; {@code what} names it in the error. */
    String string(String what) throws ModelFormatException {
        int at = pos;
        byte[] b = bytes();
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw error(at, what + " is not valid UTF-8");
        }
    }

    private int length() throws ModelFormatException {
        int at = pos;
        long len = varint();
        if (len < 0 || len > end - pos) {
            throw error(at, "length " + Long.toUnsignedString(len) + " runs past the end of the data (" + (end - pos) + " bytes left)");
        }
        return (int) len;
    }

    /** Reads and drops the value of a field with this tag. */
    void skip(int tag) throws ModelFormatException {
        skip(tag, 0);
    }

    private void skip(int tag, int depth) throws ModelFormatException {
        int at = pos;
        switch (tag & 7) {
            case VARINT -> varint();
            case FIXED64 -> advance(8, at);
            case LEN -> {
                int len = length();  // not "pos += length()": Java would add to the position before the length
                pos += len;
            }
            case FIXED32 -> advance(4, at);
            case START_GROUP -> {
                if (depth >= MAX_GROUP_DEPTH) throw error(at, "groups nested deeper than " + MAX_GROUP_DEPTH);
                while (true) {
                    if (!hasMore()) throw error(at, "group of field " + (tag >>> 3) + " has no end");
                    int inner = tag();
                    if ((inner & 7) == END_GROUP) {
                        if ((inner >>> 3) != (tag >>> 3)) throw error(pos, "group of field " + (tag >>> 3) + " ends with field " + (inner >>> 3));
                        return;
                    }
                    skip(inner, depth + 1);
                }
            }
            default -> throw error(tagAt, "wire type " + (tag & 7) + " of field " + (tag >>> 3) + " is not valid here");
        }
    }

    private void advance(int n, int at) throws ModelFormatException {
        if (end - pos < n) throw error(at, n + "-byte field runs past the end of the data");
        pos += n;
    }

    /** Requires wire type {@code wire} for field {@code name}. */
    void expect(int tag, int wire, String name) throws ModelFormatException {
        if ((tag & 7) != wire) throw error(tagAt, name + " (field " + (tag >>> 3) + ") has wire type " + (tag & 7) + ", expected " + wire);
    }

    ModelFormatException error(int at, String problem) {
        return new ModelFormatException(file, "malformed protobuf at byte offset " + at + ": " + problem);
    }
}
