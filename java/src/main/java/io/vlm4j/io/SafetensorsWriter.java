package io.vlm4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a .safetensors file atomically (temp file + rename): u64 header length, JSON header, tensor bytes in
 * insertion order. The header is padded with spaces to a multiple of 8 bytes so that data offsets stay aligned.
 */
public final class SafetensorsWriter {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a tensor (F32, F16, BF16 or I32); it must stay open until {@link #write}. */
    public SafetensorsWriter add(String name, Tensor t) {
        if (name == null || name.isEmpty() || name.equals("__metadata__")) throw new IllegalArgumentException("bad tensor name '" + name + "'");
        if (tensors.putIfAbsent(name, t) != null) throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public void write(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            ObjectNode o = header.putObject(e.getKey());
            o.put("dtype", dtypeName(t.dtype()));
            ArrayNode shape = o.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            ArrayNode off = o.putArray("data_offsets");
            off.add(offset);
            offset += t.byteSize();
            off.add(offset);
        }
        byte[] h = json.writeValueAsBytes(header);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(h);
        while (prefix.hasRemaining()) prefix.put((byte) ' ');
        prefix.flip();
        AtomicFiles.write(file, (OutputStream out) -> {
            WritableByteChannel ch = Channels.newChannel(out);
            ch.write(prefix);
            for (Tensor t : tensors.values()) {
                if (t.byteSize() > 0) {
                    ByteBuffer b = t.asByteBuffer();
                    while (b.hasRemaining()) ch.write(b);
                }
            }
        });
    }

    static String dtypeName(DType d) {
        return switch (d) {
            case F32 -> "F32";
            case F16 -> "F16";
            case BF16 -> "BF16";
            case I32 -> "I32";
        };
    }
}
