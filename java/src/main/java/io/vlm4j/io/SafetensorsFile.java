package io.vlm4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.tensor.Shapes;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * One {@code .safetensors} file (spec 08 §1.1): an 8-byte little-endian header length N, N bytes of JSON mapping
 * each tensor name to {@code {dtype, shape, data_offsets: [begin, end)}} (offsets relative to the data region
 * after the header) plus an optional {@code __metadata__} string map, then the data. Everything in the header is
 * checked when the file is opened, so a later {@link #bytes} cannot read outside the file or misread a tensor.
 * Tensor data is memory-mapped on demand, one region per tensor.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Larger headers are refused before reading them (the reference loader uses a similar 100 MB cap). */
    public static final long MAX_HEADER_BYTES = 100L << 20;
    private static final String METADATA_KEY = "__metadata__";

    /** Bytes per element of every dtype name the format defines; any other name is rejected. */
    private static final Map<String, Integer> ELEMENT_BYTES = Map.ofEntries(
            Map.entry("F64", 8), Map.entry("F32", 4), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("I64", 8), Map.entry("I32", 4), Map.entry("I16", 2), Map.entry("I8", 1),
            Map.entry("U64", 8), Map.entry("U32", 4), Map.entry("U16", 2), Map.entry("U8", 1),
            Map.entry("BOOL", 1), Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1));

    /** One header entry. {@code begin}/{@code end} are byte offsets into the data region, end exclusive. */
    public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
        public TensorInfo {
            shape = shape.clone();
        }

        @Override
        public long[] shape() { return shape.clone(); }

        public long numel() { return Shapes.numel(shape); }

        public long byteSize() { return end - begin; }

        @Override
        public boolean equals(Object o) {
            return o instanceof TensorInfo t && name.equals(t.name) && dtype.equals(t.dtype)
                    && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
        }

        @Override
        public int hashCode() { return name.hashCode() * 31 + Arrays.hashCode(shape); }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
                            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Opens and validates {@code path}; throws {@link ModelFormatException} naming the file and the problem. */
    public static SafetensorsFile open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long fileSize = ch.size();
            if (fileSize < 8) {
                throw new ModelFormatException(path, "file is " + fileSize
                        + " bytes, too short for the 8-byte header length of a safetensors file");
            }
            long headerLength = readFully(ch, 0, 8, path).getLong();  // an unsigned u64 in the file
            long available = fileSize - 8;
            if (headerLength == 0) throw new ModelFormatException(path, "header length is 0 (no JSON header)");
            if (headerLength < 0 || headerLength > available) {
                throw new ModelFormatException(path, "header length " + Long.toUnsignedString(headerLength)
                        + " is larger than the " + available + " bytes after the length field (truncated or not a safetensors file)");
            }
            if (headerLength > MAX_HEADER_BYTES) {
                throw new ModelFormatException(path, "header length " + headerLength + " exceeds the limit of "
                        + MAX_HEADER_BYTES + " bytes");
            }
            ByteBuffer header = readFully(ch, 8, (int) headerLength, path);
            byte[] json = new byte[header.remaining()];
            header.get(json);
            long dataSize = available - headerLength;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(path, StrictJson.parseObject(path, "header", json), dataSize, metadata);
            return new SafetensorsFile(path, ch, 8 + headerLength, tensors, metadata);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int length, Path path) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) {
            if (ch.read(buf, position + buf.position()) < 0) throw new EOFException(path + ": unexpected end of file");
        }
        return buf.flip();
    }

    private static Map<String, TensorInfo> parseHeader(Path path, JsonNode root, long dataSize, Map<String, String> metadata)
            throws ModelFormatException {
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals(METADATA_KEY)) {
                parseMetadata(path, e.getValue(), metadata);
            } else {
                tensors.put(e.getKey(), parseTensor(path, e.getKey(), e.getValue(), dataSize));
            }
        }
        requireDisjoint(path, tensors);
        return tensors;
    }

    private static void parseMetadata(Path path, JsonNode node, Map<String, String> out) throws ModelFormatException {
        if (!node.isObject()) {
            throw new ModelFormatException(path, "__metadata__ must be an object of strings, found a JSON " + StrictJson.kind(node));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException(path, "__metadata__ value '" + e.getKey() + "' must be a string, found "
                        + StrictJson.show(e.getValue()));
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static TensorInfo parseTensor(Path path, String name, JsonNode node, long dataSize) throws ModelFormatException {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw new ModelFormatException(path, where + " must be an object {dtype, shape, data_offsets}, found "
                    + StrictJson.show(node));
        }
        JsonNode dtypeNode = required(path, where, node, "dtype");
        if (!dtypeNode.isTextual()) throw new ModelFormatException(path, where + " dtype must be a string, found " + StrictJson.show(dtypeNode));
        String dtype = dtypeNode.textValue();
        Integer elementBytes = ELEMENT_BYTES.get(dtype);
        if (elementBytes == null) {
            throw new ModelFormatException(path, where + " has unknown dtype '" + dtype + "' (known: "
                    + String.join(", ", ELEMENT_BYTES.keySet().stream().sorted().toList()) + ")");
        }
        long[] shape = nonNegativeLongs(path, where + " shape", required(path, where, node, "shape"), -1);
        long[] offsets = nonNegativeLongs(path, where + " data_offsets", required(path, where, node, "data_offsets"), 2);
        long begin = offsets[0], end = offsets[1];
        if (begin > end) {
            throw new ModelFormatException(path, where + " data_offsets [" + begin + ", " + end + ") begin after end");
        }
        if (end > dataSize) {
            throw new ModelFormatException(path, where + " data_offsets [" + begin + ", " + end
                    + ") extend past the end of the data region (" + dataSize + " bytes; truncated file?)");
        }
        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(Shapes.numel(shape), (long) elementBytes);
        } catch (ArithmeticException ex) {
            throw new ModelFormatException(path, where + " shape " + Arrays.toString(shape) + " has too many elements");
        }
        if (expectedBytes != end - begin) {
            throw new ModelFormatException(path, where + " shape " + Arrays.toString(shape) + " of " + dtype + " needs "
                    + expectedBytes + " bytes but data_offsets [" + begin + ", " + end + ") hold " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonNode required(Path path, String where, JsonNode node, String field) throws ModelFormatException {
        JsonNode v = node.get(field);
        if (v == null) throw new ModelFormatException(path, where + " has no '" + field + "'");
        return v;
    }

    /** An array of integers in [0, Long.MAX_VALUE]; {@code length} < 0 means any length. */
    private static long[] nonNegativeLongs(Path path, String what, JsonNode node, int length) throws ModelFormatException {
        if (!node.isArray()) throw new ModelFormatException(path, what + " must be an array of integers, found " + StrictJson.show(node));
        if (length >= 0 && node.size() != length) {
            throw new ModelFormatException(path, what + " must have " + length + " entries, found " + StrictJson.show(node));
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new ModelFormatException(path, what + " must hold non-negative integers, found " + StrictJson.show(node));
            }
            out[i] = v.longValue();
        }
        return out;
    }

    /** Empty tensors occupy no bytes, so only non-empty ranges can overlap. */
    private static void requireDisjoint(Path path, Map<String, TensorInfo> tensors) throws ModelFormatException {
        List<TensorInfo> sorted = new ArrayList<>();
        for (TensorInfo t : tensors.values()) if (t.end > t.begin) sorted.add(t);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo a = sorted.get(i - 1), b = sorted.get(i);
            if (b.begin < a.end) {
                throw new ModelFormatException(path, "tensor '" + b.name + "' data_offsets [" + b.begin + ", " + b.end
                        + ") overlap tensor '" + a.name + "' [" + a.begin + ", " + a.end + ")");
            }
        }
    }

    public Path path() { return path; }

    /** Header entries in file order. */
    public Map<String, TensorInfo> tensors() { return tensors; }

    /** The optional {@code __metadata__} map (empty when absent). */
    public Map<String, String> metadata() { return metadata; }

    /** Bytes per element of a safetensors dtype name, if it is one. */
    public static OptionalInt elementBytes(String dtype) {
        Integer n = ELEMENT_BYTES.get(dtype);
        return n == null ? OptionalInt.empty() : OptionalInt.of(n);
    }

    /**
     * The raw little-endian bytes of {@code name}: a read-only memory-mapped buffer that stays valid after
     * {@link #close()}. Tensors of 2 GiB or more cannot be mapped as one buffer and are refused.
     */
    public ByteBuffer bytes(String name) throws IOException {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new ModelFormatException(path, "missing tensor '" + name + "'");
        long size = t.byteSize();
        if (size > Integer.MAX_VALUE) {
            throw new ModelFormatException(path, "tensor '" + name + "' is " + size
                    + " bytes; tensors of 2 GiB or more are not supported");
        }
        if (size == 0) return ByteBuffer.allocate(0).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin, size).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() { return path.toString(); }
}
