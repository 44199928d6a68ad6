package io.vlm4j.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A read-only byte array of any length (dataset pixels: MedMNIST at 224 px is tens of GB), held as chunks of at most
 * 1 GiB: heap arrays for what fits comfortably in the heap, otherwise memory-mapped from the file the bytes are stored
 * in, or from a temporary file they are inflated into (deleted at once: the mapping keeps it alive).
 */
public final class LargeBytes {
    static final int CHUNK = 1 << 30;
    private final ByteBuffer[] chunks;
    private final long length;

    private LargeBytes(List<ByteBuffer> chunks, long length) {
        this.chunks = chunks.toArray(new ByteBuffer[0]);
        this.length = length;
    }

    public static LargeBytes wrap(byte[] bytes) {
        List<ByteBuffer> out = new ArrayList<>();
        for (int p = 0; p < bytes.length; p += CHUNK) out.add(ByteBuffer.wrap(bytes, p, Math.min(CHUNK, bytes.length - p)).slice());
        return new LargeBytes(out, bytes.length);
    }

    /** {@code length} bytes of {@code ch} from {@code offset}, mapped read-only. */
    public static LargeBytes map(FileChannel ch, long offset, long length) throws IOException {
        List<ByteBuffer> out = new ArrayList<>();
        for (long p = 0; p < length; p += CHUNK) out.add(ch.map(FileChannel.MapMode.READ_ONLY, offset + p, Math.min(CHUNK, length - p)));
        return new LargeBytes(out, length);
    }

    /**
     * Exactly {@code length} bytes of {@code in}: in the heap when they take at most a quarter of the maximum heap,
     * else through a temporary file. {@code name} is used in error messages.
     */
    public static LargeBytes read(Path name, InputStream in, long length) throws IOException {
        return read(name, in, length, Runtime.getRuntime().maxMemory() / 4);
    }

    static LargeBytes read(Path name, InputStream in, long length, long heapLimit) throws IOException {
        if (length <= heapLimit) {
            List<ByteBuffer> out = new ArrayList<>();
            for (long p = 0; p < length; p += CHUNK) {
                int n = (int) Math.min(CHUNK, length - p);
                byte[] b = in.readNBytes(n);
                if (b.length < n) throw truncated(name, length, p + b.length);
                out.add(ByteBuffer.wrap(b));
            }
            return new LargeBytes(out, length);
        }
        Path tmp = Files.createTempFile("vlm4j-", ".bytes");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                long copied = 0;
                byte[] buf = new byte[1 << 20];
                while (copied < length) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, length - copied));
                    if (n < 0) throw truncated(name, length, copied);
                    out.write(buf, 0, n);
                    copied += n;
                }
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ)) {
                return map(ch, 0, length);
            }
        } finally {
            try {
                Files.delete(tmp);
            } catch (IOException e) {  // a platform that cannot delete a mapped file
                tmp.toFile().deleteOnExit();
            }
        }
    }

    private static ModelFormatException truncated(Path name, long want, long got) {
        return new ModelFormatException(name, "truncated: expected " + want + " bytes of data, found " + got);
    }

    public long length() { return length; }

    /** Copies {@code len} bytes starting at {@code offset} into {@code dst[off..]}; safe from several threads. */
    public void get(long offset, byte[] dst, int off, int len) {
        if (offset < 0 || len < 0 || offset > length - len) {
            throw new IndexOutOfBoundsException("bytes [" + offset + ", " + (offset + len) + ") of " + length);
        }
        while (len > 0) {
            int c = (int) (offset / CHUNK), at = (int) (offset % CHUNK);
            int n = Math.min(len, chunks[c].capacity() - at);
            chunks[c].get(at, dst, off, n);  // absolute get: no shared position
            offset += n;
            off += n;
            len -= n;
        }
    }

    public byte get(long offset) {
        if (offset < 0 || offset >= length) throw new IndexOutOfBoundsException("byte " + offset + " of " + length);
        return chunks[(int) (offset / CHUNK)].get((int) (offset % CHUNK));
    }
}
