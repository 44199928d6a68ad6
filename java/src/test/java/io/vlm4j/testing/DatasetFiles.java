package io.vlm4j.testing;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;

/** Dataset files written byte for byte as their tools write them: numpy's .npy/.npz, MNIST's IDX, PNGs. */
public final class DatasetFiles {
    private DatasetFiles() {}

    /** A .npy (format 1.0) as np.save writes it: dict, spaces, '\n', padded so the data starts at a multiple of 64. */
    public static byte[] npy(String descr, long[] shape, byte[] data) {
        StringBuilder dict = new StringBuilder("{'descr': '").append(descr).append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.length; i++) dict.append(i > 0 ? ", " : "").append(shape[i]);
        dict.append(shape.length == 1 ? ",), }" : "), }");
        byte[] text = dict.toString().getBytes(StandardCharsets.ISO_8859_1);
        int total = (10 + text.length + 1 + 63) / 64 * 64;
        ByteBuffer b = ByteBuffer.allocate(total + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) (total - 10)).put(text);
        while (b.position() < total - 1) b.put((byte) ' ');
        return b.put((byte) '\n').put(data).array();
    }

    public static byte[] int64s(long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) b.putLong(x);
        return b.array();
    }

    public static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    /** One archive member. */
    public record Entry(String name, byte[] data, boolean deflate) {}

    /**
     * A zip as Python's zipfile (np.savez / np.savez_compressed) writes it; {@code zip64} also gives every entry zip64
     * extra fields and the archive a zip64 end record, as numpy does for large arrays.
     */
    public static byte[] zip(List<Entry> entries, boolean zip64) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream cd = new ByteArrayOutputStream();
        for (Entry e : entries) {
            CRC32 crc = new CRC32();
            crc.update(e.data);
            byte[] body = e.deflate ? deflate(e.data) : e.data;
            byte[] name = e.name.getBytes(StandardCharsets.UTF_8);
            long offset = out.size();
            ByteBuffer local = le(30 + name.length + (zip64 ? 20 : 0));
            local.putInt(0x04034b50).putShort((short) (zip64 ? 45 : 20)).putShort((short) 0).putShort((short) (e.deflate ? 8 : 0))
                    .putShort((short) 0).putShort((short) 0x21).putInt((int) crc.getValue())
                    .putInt(zip64 ? -1 : body.length).putInt(zip64 ? -1 : e.data.length)
                    .putShort((short) name.length).putShort((short) (zip64 ? 20 : 0)).put(name);
            if (zip64) local.putShort((short) 1).putShort((short) 16).putLong(e.data.length).putLong(body.length);
            out.writeBytes(local.array());
            out.writeBytes(body);
            ByteBuffer c = le(46 + name.length + (zip64 ? 28 : 0));
            c.putInt(0x02014b50).putShort((short) 45).putShort((short) (zip64 ? 45 : 20)).putShort((short) 0)
                    .putShort((short) (e.deflate ? 8 : 0)).putShort((short) 0).putShort((short) 0x21).putInt((int) crc.getValue())
                    .putInt(zip64 ? -1 : body.length).putInt(zip64 ? -1 : e.data.length).putShort((short) name.length)
                    .putShort((short) (zip64 ? 28 : 0)).putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0x1800000)
                    .putInt(zip64 ? -1 : (int) offset).put(name);
            if (zip64) c.putShort((short) 1).putShort((short) 24).putLong(e.data.length).putLong(body.length).putLong(offset);
            cd.writeBytes(c.array());
        }
        long cdOffset = out.size();
        out.writeBytes(cd.toByteArray());
        if (zip64) {
            long z = out.size();
            out.writeBytes(le(56).putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                    .putLong(entries.size()).putLong(entries.size()).putLong(cd.size()).putLong(cdOffset).array());
            out.writeBytes(le(20).putInt(0x07064b50).putInt(0).putLong(z).putInt(1).array());
        }
        out.writeBytes(le(22).putInt(0x06054b50).putShort((short) 0).putShort((short) 0)
                .putShort((short) (zip64 ? -1 : entries.size())).putShort((short) (zip64 ? -1 : entries.size()))
                .putInt(zip64 ? -1 : cd.size()).putInt(zip64 ? -1 : (int) cdOffset).putShort((short) 0).array());
        return out.toByteArray();
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    public static byte[] deflate(byte[] data) {
        Deflater d = new Deflater(6, true);
        d.setInput(data);
        d.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (!d.finished()) out.write(buf, 0, d.deflate(buf));
        d.end();
        return out.toByteArray();
    }

    public static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(out)) {
            g.write(data);
        }
        return out.toByteArray();
    }

    /** An IDX file: 0, 0, type 0x08, rank, big-endian dimensions, data. */
    public static byte[] idx(int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.put((byte) 0).put((byte) 0).put((byte) 8).put((byte) dims.length);
        for (int d : dims) b.putInt(d);
        return b.put(data).array();
    }

    /** Pixel value of image {@code i} at (y, x, channel): distinct per image so that mix-ups show. */
    public static int pixel(int i, int y, int x, int c) {
        return (i * 37 + y * 11 + x * 5 + c * 70) & 0xFF;
    }

    /** n images [h, w] or [h, w, 3], each filled with {@link #pixel}. */
    public static byte[] images(int n, int h, int w, int c) {
        byte[] b = new byte[n * h * w * c];
        int k = 0;
        for (int i = 0; i < n; i++) for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int ch = 0; ch < c; ch++) b[k++] = (byte) pixel(i, y, x, ch);
        return b;
    }

    /** A gray PNG of h x w with value v everywhere. */
    public static Path png(Path file, int h, int w, int v) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        byte[] px = new byte[h * w];
        java.util.Arrays.fill(px, (byte) v);
        try (BytePointer data = new BytePointer(px); Mat m = new Mat(h, w, CV_8UC(1), data)) {
            if (!imwrite(file.toString(), m)) throw new IOException("imwrite " + file);
        }
        return file;
    }

    /** 3 classes told apart by where the bright half is (left, right, top), with noise; folder layout train/val. */
    public static Path brightHalves(Path root, int perClassTrain, int perClassVal) throws IOException {
        java.util.SplittableRandom r = new java.util.SplittableRandom(11);
        String[] classes = {"left", "right", "top"};
        for (String split : new String[] {"train", "val"}) {
            int n = split.equals("train") ? perClassTrain : perClassVal;
            for (int c = 0; c < 3; c++) {
                Path dir = Files.createDirectories(root.resolve(split).resolve(classes[c]));
                for (int i = 0; i < n; i++) {
                    java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(20, 20, java.awt.image.BufferedImage.TYPE_INT_RGB);
                    for (int y = 0; y < 20; y++) {
                        for (int x = 0; x < 20; x++) {
                            boolean bright = c == 0 ? x < 10 : c == 1 ? x >= 10 : y < 10;
                            int v = Math.max(0, Math.min(255, (bright ? 170 : 80) + (int) (r.nextGaussian() * 40)));
                            img.setRGB(x, y, (v << 16) | (v << 8) | v);
                        }
                    }
                    javax.imageio.ImageIO.write(img, "png", dir.resolve(i + ".png").toFile());
                }
            }
        }
        return root;
    }

}
