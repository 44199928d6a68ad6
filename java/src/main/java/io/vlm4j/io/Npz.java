package io.vlm4j.io;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;

/**
 * NumPy {@code .npz} archives ({@code np.savez}: stored, {@code np.savez_compressed}: deflated): a zip of
 * {@code <name>.npy} entries. The zip's central directory is read here (zip64 included, as numpy writes large arrays)
 * so that a stored uint8 array can be memory-mapped in place instead of copied; deflated entries are inflated once
 * and checked against their CRC-32. Errors name the archive and the entry: {@code data.npz:train_images.npy: ...}.
 */
public final class Npz implements AutoCloseable {
    private static final int EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50;
    private static final int CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
    private static final int STORED = 0, DEFLATED = 8;

    /** One archive member: where its compressed bytes start and how long they are. */
    private record Entry(String name, int method, long crc, long compressedSize, long size, long localOffset) {}

    private final Path file;
    private final FileChannel ch;
    private final long fileSize;
    private final Map<String, Entry> entries;

    private Npz(Path file, FileChannel ch) throws IOException {
        this.file = file;
        this.ch = ch;
        this.fileSize = ch.size();
        this.entries = Collections.unmodifiableMap(centralDirectory());
    }

    public static Npz open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new Npz(file, ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public Path file() { return file; }

    /** The array names (entry names without {@code .npy}), in archive order. */
    public List<String> arrays() {
        List<String> out = new ArrayList<>();
        for (String n : entries.keySet()) if (n.endsWith(".npy")) out.add(n.substring(0, n.length() - 4));
        return out;
    }

    public boolean contains(String array) { return entries.containsKey(array + ".npy"); }

    /** Entry names, sizes and CRC-32s: identifies the content without reading it. */
    public String fingerprint() {
        StringBuilder s = new StringBuilder();
        for (Entry e : entries.values()) s.append(e.name).append(' ').append(e.size).append(' ').append(Long.toHexString(e.crc)).append(';');
        return s.toString();
    }

    public NpyHeader header(String array) throws IOException {
        Entry e = entry(array);
        try (InputStream in = open(e)) {
            return Npy.readHeader(name(e), in, e.size);
        } catch (java.util.zip.ZipException | java.io.EOFException x) {
            throw corrupt(e, x);
        }
    }

    /** An integer or bool array as longs (see {@link Npy#readInt64(Path)}). */
    public long[] readInt64(String array) throws IOException {
        Entry e = entry(array);
        try (CheckedInputStream in = new CheckedInputStream(open(e), new CRC32())) {
            NpyHeader h = Npy.readHeader(name(e), in, e.size);
            long[] v = Npy.readInt64(name(e), h, in);
            finish(e, in);
            return v;
        } catch (java.util.zip.ZipException | java.io.EOFException x) {
            throw corrupt(e, x);
        }
    }

    /** The header and bytes of a uint8 array: mapped in place when stored, else inflated and CRC-checked. */
    public record Uint8Array(NpyHeader header, LargeBytes data) {}

    public Uint8Array readUint8(String array) throws IOException {
        Entry e = entry(array);
        if (e.method == STORED) {
            NpyHeader h = header(array);
            Npy.requireUint8(name(e), h);
            return new Uint8Array(h, LargeBytes.map(ch, dataStart(e) + h.dataOffset(), h.dataBytes()));
        }
        try (CheckedInputStream in = new CheckedInputStream(open(e), new CRC32())) {
            NpyHeader h = Npy.readHeader(name(e), in, e.size);
            Npy.requireUint8(name(e), h);
            LargeBytes data = LargeBytes.read(name(e), in, h.dataBytes());
            finish(e, in);
            return new Uint8Array(h, data);
        } catch (java.util.zip.ZipException | java.io.EOFException x) {
            throw corrupt(e, x);
        }
    }

    /** The inflater's own errors (bad deflate data, input ended early) with the archive and entry named. */
    private ModelFormatException corrupt(Entry e, IOException x) {
        return new ModelFormatException(name(e), "corrupt or truncated compressed data (" + x.getMessage() + ")", x);
    }

    @Override
    public void close() throws IOException { ch.close(); }

    private Entry entry(String array) throws ModelFormatException {
        Entry e = entries.get(array + ".npy");
        if (e == null) throw new ModelFormatException(file, "no array '" + array + "' (arrays: " + String.join(", ", arrays()) + ")");
        return e;
    }

    /** The errors of an entry name the archive and the entry. */
    private Path name(Entry e) {
        try {
            return Path.of(file + ":" + e.name);
        } catch (InvalidPathException x) {
            return file;
        }
    }

    /** The entry must end where its size says and match its CRC-32. */
    private void finish(Entry e, CheckedInputStream in) throws IOException {
        if (in.read() >= 0) throw new ModelFormatException(name(e), "entry holds more bytes than its declared size " + e.size);
        if (in.getChecksum().getValue() != e.crc) {
            throw new ModelFormatException(name(e), "CRC-32 mismatch: the archive is corrupt");
        }
    }

    private InputStream open(Entry e) throws IOException {
        long start = dataStart(e);
        if (e.method == STORED) return new Region(start, e.compressedSize, false);
        return new InflaterInputStream(new BufferedInputStream(new Region(start, e.compressedSize, true), 1 << 16),
                new Inflater(true), 1 << 16) {
            private boolean closed;

            @Override
            public void close() throws IOException {
                if (!closed) inf.end();  // the Inflater's native memory, not left to the cleaner
                closed = true;
                super.close();
            }
        };
    }

    private long dataStart(Entry e) throws IOException {
        if (e.localOffset > fileSize - 30) {
            throw new ModelFormatException(name(e), "local header offset " + e.localOffset + " is past the end of the file");
        }
        ByteBuffer h = read(e.localOffset, 30);
        if (h.getInt(0) != LOCAL) throw new ModelFormatException(name(e), "bad local file header signature (corrupt archive)");
        long start = e.localOffset + 30 + (h.getShort(26) & 0xFFFF) + (h.getShort(28) & 0xFFFF);
        if (start > fileSize || e.compressedSize > fileSize - start) {
            throw new ModelFormatException(name(e), "entry data runs past the end of the file (truncated archive)");
        }
        return start;
    }

    /** The end-of-central-directory record, zip64 when numpy wrote one, then every entry. */
    private Map<String, Entry> centralDirectory() throws IOException {
        if (fileSize < 22) throw new ModelFormatException(file, "file is " + fileSize + " bytes, too short for a zip (.npz) archive");
        int tail = (int) Math.min(fileSize, 22 + 0xFFFF);
        ByteBuffer end = read(fileSize - tail, tail);
        int at = -1;
        for (int i = tail - 22; i >= 0; i--) {
            if (end.getInt(i) == EOCD && i + 22 + (end.getShort(i + 20) & 0xFFFF) == tail) {
                at = i;
                break;
            }
        }
        if (at < 0) throw new ModelFormatException(file, "not a zip (.npz) archive, or truncated: no end-of-central-directory record");
        long count = end.getShort(at + 10) & 0xFFFF, cdSize = end.getInt(at + 12) & 0xFFFFFFFFL, cdOffset = end.getInt(at + 16) & 0xFFFFFFFFL;
        long eocdPos = fileSize - tail + at;
        if (eocdPos >= 20 && read(eocdPos - 20, 4).getInt(0) == ZIP64_LOCATOR) {
            long z = read(eocdPos - 20, 20).getLong(8);
            if (z < 0 || z > fileSize - 56) throw new ModelFormatException(file, "bad zip64 end-of-central-directory offset " + z);
            ByteBuffer r = read(z, 56);
            if (r.getInt(0) != ZIP64_EOCD) throw new ModelFormatException(file, "bad zip64 end-of-central-directory record");
            count = r.getLong(32);
            cdSize = r.getLong(40);
            cdOffset = r.getLong(48);
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > fileSize || cdSize > fileSize - cdOffset || cdSize > Integer.MAX_VALUE) {
            throw new ModelFormatException(file, "central directory [" + cdOffset + ", +" + cdSize + ") lies outside the file (truncated archive?)");
        }
        ByteBuffer cd = read(cdOffset, (int) cdSize);
        Map<String, Entry> out = new LinkedHashMap<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p > cd.limit() - 46 || cd.getInt(p) != CENTRAL) throw new ModelFormatException(file, "corrupt central directory at entry " + i);
            int flags = cd.getShort(p + 8) & 0xFFFF, method = cd.getShort(p + 10) & 0xFFFF;
            int nameLen = cd.getShort(p + 28) & 0xFFFF, extraLen = cd.getShort(p + 30) & 0xFFFF, commentLen = cd.getShort(p + 32) & 0xFFFF;
            if (p + 46 + nameLen + extraLen + commentLen > cd.limit()) {
                throw new ModelFormatException(file, "corrupt central directory at entry " + i);
            }
            byte[] nb = new byte[nameLen];
            cd.get(p + 46, nb);
            String name = new String(nb, StandardCharsets.UTF_8);
            long crc = cd.getInt(p + 16) & 0xFFFFFFFFL, csize = cd.getInt(p + 20) & 0xFFFFFFFFL, size = cd.getInt(p + 24) & 0xFFFFFFFFL;
            long local = cd.getInt(p + 42) & 0xFFFFFFFFL;
            // zip64 extended information: the 64-bit values of the fields saturated above, in this order
            for (int x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; ) {
                int id = cd.getShort(x) & 0xFFFF, len = cd.getShort(x + 2) & 0xFFFF;
                if (id == 0x0001) {
                    int q = x + 4;
                    if (size == 0xFFFFFFFFL && q + 8 <= x + 4 + len) { size = cd.getLong(q); q += 8; }
                    if (csize == 0xFFFFFFFFL && q + 8 <= x + 4 + len) { csize = cd.getLong(q); q += 8; }
                    if (local == 0xFFFFFFFFL && q + 8 <= x + 4 + len) local = cd.getLong(q);
                }
                x += 4 + len;
            }
            p += 46 + nameLen + extraLen + commentLen;
            if ((flags & 1) != 0) throw new ModelFormatException(file, "entry " + name + " is encrypted");
            if (method != STORED && method != DEFLATED) {
                throw new ModelFormatException(file, "entry " + name + " uses zip compression method " + method + " (supported: stored, deflate)");
            }
            if (size < 0 || csize < 0 || local < 0 || (method == STORED && csize != size)) {
                throw new ModelFormatException(file, "entry " + name + " has inconsistent sizes (corrupt archive)");
            }
            if (out.put(name, new Entry(name, method, crc, csize, size, local)) != null) {
                throw new ModelFormatException(file, "entry " + name + " appears twice");
            }
        }
        return out;
    }

    private ByteBuffer read(long position, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        long p = position;
        while (b.hasRemaining()) {
            int n = ch.read(b, p);
            if (n < 0) throw new ModelFormatException(file, "unexpected end of file (truncated archive)");
            p += n;
        }
        return b.flip();
    }

    /**
     * The bytes [start, start + length) of the archive as a stream; with {@code pad} one extra zero byte after them,
     * which a raw inflater may need to see the end of the last block (as java.util.zip.ZipFile does).
     */
    private final class Region extends InputStream {
        private long pos;
        private final long end;
        private boolean pad;

        Region(long start, long length, boolean pad) {
            this.pos = start;
            this.end = start + length;
            this.pad = pad;
        }

        @Override
        public int read() throws IOException {
            byte[] b = new byte[1];
            return read(b, 0, 1) < 0 ? -1 : b[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            if (pos >= end) {
                if (!pad) return -1;
                pad = false;
                b[off] = 0;
                return 1;
            }
            ByteBuffer dst = ByteBuffer.wrap(b, off, (int) Math.min(len, end - pos));
            int n = ch.read(dst, pos);
            if (n < 0) throw new ModelFormatException(file, "unexpected end of file (truncated archive)");
            pos += n;
            return n;
        }
    }
}
