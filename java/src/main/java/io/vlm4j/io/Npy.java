package io.vlm4j.io;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * NumPy {@code .npy} arrays (format versions 1.0, 2.0 and 3.0): the exchange format for pixel inputs, token ids
 * and embeddings between vlm4j and Python. Reading validates the whole file before any data is used; writing is
 * atomic ({@link AtomicFiles}), in the layout {@code np.save} produces.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy pads the header so that the data starts at a multiple of this. */
    private static final int ALIGN = 64;
    /** numpy's own reader refuses headers over 10 000 bytes by default; we allow more but not without bound. */
    private static final long MAX_HEADER_BYTES = 1 << 20;
    private static final int CHUNK = 1 << 20;

    private Npy() {}

    /** Reads and validates only the header. */
    public static NpyHeader readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return header(file, ch);
        }
    }

    /** A float32, float64 or float16 array as an F32 tensor (float64 rounds to nearest; float16 is exact). */
    public static Tensor readFloat32(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = header(file, ch);
            requireUnder2GiB(file, h);
            if (h.kind() != 'f') {
                throw new ModelFormatException(file, "expected a float32/float64/float16 array, found dtype '"
                        + h.descr() + "'");
            }
            long[] shape = h.shape();
            if (h.itemSize() == 4) return raw(file, ch, h, DType.F32);
            if (h.itemSize() == 2) {
                try (Tensor half = raw(file, ch, h, DType.F16)) {
                    Tensor out = Tensor.allocate(DType.F32, shape);
                    try {
                        new CpuBackend().convert(half, out);
                        return out;
                    } catch (RuntimeException e) {
                        out.close();
                        throw e;
                    }
                }
            }
            Tensor out = Tensor.allocate(DType.F32, shape);
            try {
                FloatBuffer dst = floats(out);
                chunks(file, ch, h, buf -> {
                    while (buf.hasRemaining()) dst.put((float) buf.getDouble());
                });
                return out;
            } catch (IOException | RuntimeException e) {
                out.close();
                throw e;
            }
        }
    }

    /** An int32, int64 (every value must fit in int32), uint8 or bool array as an I32 tensor. */
    public static Tensor readInt32(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = header(file, ch);
            requireUnder2GiB(file, h);
            if (h.kind() == 'f') {
                throw new ModelFormatException(file, "expected an integer array (int32/int64), found dtype '" + h.descr() + "'");
            }
            if (h.itemSize() == 4) return raw(file, ch, h, DType.I32);
            Tensor out = Tensor.allocate(DType.I32, h.shape());
            try {
                IntBuffer dst = out.numel() == 0 ? IntBuffer.allocate(0) : out.asByteBuffer().asIntBuffer();
                chunks(file, ch, h, buf -> {
                    while (buf.hasRemaining()) {
                        if (h.itemSize() == 1) {
                            int b = buf.get() & 0xFF;
                            dst.put(h.kind() == 'b' ? (b != 0 ? 1 : 0) : b);
                            continue;
                        }
                        long v = buf.getLong();
                        if (v != (int) v) {
                            throw new ModelFormatException(file, "int64 value " + v + " at element " + dst.position()
                                    + " does not fit in int32");
                        }
                        dst.put((int) v);
                    }
                });
                return out;
            } catch (IOException | RuntimeException e) {
                out.close();
                throw e;
            }
        }
    }

    /** An integer or bool array (int32, int64, uint8, bool) as longs, in C order; under 2^31 elements. */
    public static long[] readInt64(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = header(file, ch);
            return readInt64(file, h, Channels.newInputStream(ch.position(h.dataOffset())));
        }
    }

    /** A uint8 (or bool) array's bytes, in C order; under 2 GiB. */
    public static byte[] readUint8(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = header(file, ch);
            requireUint8(file, h);
            if (h.dataBytes() > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException(file, "array of " + h.dataBytes() + " bytes; arrays of 2 GiB or more are not supported here");
            }
            return read(file, ch, h.dataOffset(), (int) h.dataBytes()).array();
        }
    }

    /**
     * The header of a .npy held in a stream of {@code size} bytes (an entry of an .npz), read from the stream's first
     * byte; on return the stream is at the data, and {@link NpyHeader#dataOffset()} counts from the stream's start.
     * {@code name} is used in error messages.
     */
    public static NpyHeader readHeader(Path name, InputStream in, long size) throws IOException {
        return header(name, size, n -> {
            byte[] b = in.readNBytes(n);
            if (b.length < n) throw new ModelFormatException(name, "unexpected end of data (truncated?)");
            return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        });
    }

    /** The data of an integer or bool array described by {@code h}, read from {@code in} (positioned at the data). */
    public static long[] readInt64(Path name, NpyHeader h, InputStream in) throws IOException {
        if (h.kind() == 'f') {
            throw new ModelFormatException(name, "expected an integer array (uint8/int32/int64/bool), found dtype '" + h.descr() + "'");
        }
        if (h.numel() > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(name, "array of " + h.numel() + " elements; 2^31 or more are not supported here");
        }
        long[] out = new long[(int) h.numel()];
        int chunk = CHUNK / h.itemSize() * h.itemSize();
        long remaining = h.dataBytes();
        int k = 0;
        while (remaining > 0) {
            int n = (int) Math.min(chunk, remaining);
            byte[] b = in.readNBytes(n);
            if (b.length < n) throw new ModelFormatException(name, "unexpected end of data (truncated?)");
            ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            while (buf.hasRemaining()) {
                out[k++] = switch (h.itemSize()) {
                    case 1 -> h.kind() == 'b' ? (buf.get() != 0 ? 1 : 0) : buf.get() & 0xFF;
                    case 4 -> buf.getInt();
                    default -> buf.getLong();
                };
            }
            remaining -= n;
        }
        return out;
    }

    /** uint8 or bool: the element types whose bytes are the values. */
    public static void requireUint8(Path name, NpyHeader h) throws ModelFormatException {
        if (h.itemSize() != 1) {
            throw new ModelFormatException(name, "expected a uint8 array, found dtype '" + h.descr() + "'");
        }
    }

    /** Writes an F32 tensor as {@code <f4} or an I32 tensor as {@code <i4}, replacing {@code file} atomically. */
    public static void write(Path file, Tensor tensor) throws IOException {
        String descr = switch (tensor.dtype()) {
            case F32 -> "<f4";
            case I32 -> "<i4";
            default -> throw new IllegalArgumentException("Npy.write supports F32 and I32 tensors, got " + tensor);
        };
        if (tensor.byteSize() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Npy.write supports tensors under 2 GiB, got " + tensor);
        }
        byte[] header = encodeHeader(NpyHeader.format(descr, tensor.shape()));
        ByteBuffer data = tensor.numel() == 0 ? ByteBuffer.allocate(0) : tensor.asByteBuffer();
        AtomicFiles.write(file, out -> {
            out.write(header);
            WritableByteChannel w = Channels.newChannel(out);
            while (data.hasRemaining()) w.write(data);
        });
    }

    /** magic, version, length, dict, spaces and '\n' up to a multiple of 64; version 2.0 only when needed. */
    private static byte[] encodeHeader(String dict) {
        byte[] text = dict.getBytes(StandardCharsets.ISO_8859_1);
        boolean v1 = text.length + 1 + 10 + ALIGN <= 0xFFFF;
        int prefix = v1 ? 10 : 12;
        int total = (prefix + text.length + 1 + ALIGN - 1) / ALIGN * ALIGN;
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) (v1 ? 1 : 2)).put((byte) 0);
        if (v1) b.putShort((short) (total - prefix));
        else b.putInt(total - prefix);
        b.put(text);
        while (b.position() < total - 1) b.put((byte) ' ');
        b.put((byte) '\n');
        return b.array();
    }

    /** Reads go through ByteBuffers over the tensor, which Java caps at 2 GiB. */
    private static void requireUnder2GiB(Path file, NpyHeader h) throws ModelFormatException {
        long bytes = Math.max(h.dataBytes(), h.numel() * 4);
        if (bytes > Integer.MAX_VALUE) {
            throw new ModelFormatException(file, "array of " + bytes + " bytes; arrays of 2 GiB or more are not supported");
        }
    }

    private static NpyHeader header(Path file, FileChannel ch) throws IOException {
        long[] pos = {0};
        return header(file, ch.size(), n -> {
            ByteBuffer b = read(file, ch, pos[0], n);
            pos[0] += n;
            return b;
        });
    }

    /** Reads the next {@code n} bytes of a file or stream, failing on a short read. */
    @FunctionalInterface
    private interface Sequential {
        ByteBuffer next(int n) throws IOException;
    }

    /** Validates the header of {@code size} bytes of .npy read through {@code in} from its first byte. */
    private static NpyHeader header(Path file, long size, Sequential in) throws IOException {
        if (size < 10) throw new ModelFormatException(file, "file is " + size + " bytes, too short for a .npy header");
        ByteBuffer start = in.next(8);
        byte[] magic = new byte[6];
        start.get(magic);
        if (!Arrays.equals(magic, MAGIC)) throw new ModelFormatException(file, "not a .npy file (bad magic bytes)");
        int major = start.get() & 0xFF, minor = start.get() & 0xFF;
        if (minor != 0 || major < 1 || major > 3) {
            throw new ModelFormatException(file, "unsupported .npy format version " + major + "." + minor
                    + " (supported: 1.0, 2.0, 3.0)");
        }
        int prefix = major == 1 ? 10 : 12;
        if (size < prefix) throw new ModelFormatException(file, "file is " + size + " bytes, too short for a .npy header");
        ByteBuffer len = in.next(prefix - 8);
        long headerLength = major == 1 ? len.getShort() & 0xFFFFL : len.getInt() & 0xFFFFFFFFL;
        if (headerLength > size - prefix) {
            throw new ModelFormatException(file, ".npy header length " + headerLength + " is larger than the rest of the file ("
                    + (size - prefix) + " bytes)");
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw new ModelFormatException(file, ".npy header length " + headerLength + " exceeds the limit of " + MAX_HEADER_BYTES);
        }
        ByteBuffer raw = in.next((int) headerLength);
        // Versions 1 and 2 store latin-1 text, version 3 UTF-8 (numpy's own choice of decoding).
        String text = new String(raw.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        NpyHeader h = NpyHeader.parse(file, text, prefix + headerLength);
        long available = size - h.dataOffset();
        if (available != h.dataBytes()) {
            throw new ModelFormatException(file, (available < h.dataBytes() ? "truncated: " : "trailing bytes: ")
                    + "shape " + Arrays.toString(h.shape()) + " of '" + h.descr() + "' needs " + h.dataBytes()
                    + " data bytes but the file has " + available);
        }
        return h;
    }

    /** The data copied as-is into a new tensor of {@code dtype} (same element size as the file's). */
    private static Tensor raw(Path file, FileChannel ch, NpyHeader h, DType dtype) throws IOException {
        Tensor t = Tensor.allocate(dtype, h.shape());
        try {
            if (t.numel() > 0) {
                ByteBuffer dst = t.asByteBuffer();
                readInto(file, ch, h.dataOffset(), dst);
            }
            return t;
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static FloatBuffer floats(Tensor t) {
        return t.numel() == 0 ? FloatBuffer.allocate(0) : t.asByteBuffer().asFloatBuffer();
    }

    /** Feeds the data to {@code sink} in little-endian chunks of whole elements. */
    private static void chunks(Path file, FileChannel ch, NpyHeader h, AtomicFiles.IOConsumer<ByteBuffer> sink)
            throws IOException {
        long remaining = h.dataBytes(), pos = h.dataOffset();
        int chunk = CHUNK / h.itemSize() * h.itemSize();
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(chunk, Math.max(remaining, 1))).order(ByteOrder.LITTLE_ENDIAN);
        while (remaining > 0) {
            buf.clear().limit((int) Math.min(buf.capacity(), remaining));
            readInto(file, ch, pos, buf);
            buf.flip();
            pos += buf.remaining();
            remaining -= buf.remaining();
            sink.accept(buf);
        }
    }

    private static ByteBuffer read(Path file, FileChannel ch, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        readInto(file, ch, position, buf);
        return buf.flip();
    }

    private static void readInto(Path file, FileChannel ch, long position, ByteBuffer dst) throws IOException {
        long p = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, p);
            if (n < 0) throw new ModelFormatException(file, "unexpected end of file (was it truncated while reading?)");
            p += n;
        }
    }
}
