package io.vlm4j.data;

import io.vlm4j.io.LargeBytes;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * MNIST-format IDX files (yann.lecun.com/exdb/mnist; Fashion-MNIST, Debian's {@code dataset-fashion-mnist} in
 * {@code /usr/share/datasets/fashion-mnist}): a folder with {@code train-images-idx3-ubyte} and
 * {@code train-labels-idx1-ubyte} (split train) and/or {@code t10k-images-idx3-ubyte} and {@code t10k-labels-idx1-ubyte}
 * (split test), each optionally gzipped ({@code .gz}). Header: two zero bytes, type 0x08 (unsigned byte), the number
 * of dimensions, then each dimension as a big-endian int32; then the data. A folder whose path names Fashion-MNIST
 * gets its ten class names, any other the digits "0".."9".
 */
public final class IdxDataset {
    public static final List<String> FASHION_MNIST_CLASSES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
            "Shirt", "Sneaker", "Bag", "Ankle boot");
    /** Where Debian's dataset-fashion-mnist package installs the four gzipped files. */
    public static final Path DEBIAN_FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");
    private static final int UBYTE = 0x08;

    private IdxDataset() {}

    /** True when {@code dir} holds a train or t10k images/labels pair (plain or .gz). */
    public static boolean looksLikeIdx(Path dir) {
        for (String prefix : List.of("train", "t10k")) {
            if (find(dir, prefix + "-images-idx3-ubyte") != null || find(dir, prefix + "-labels-idx1-ubyte") != null) return true;
        }
        return false;
    }

    /** @param classNames the classes in label order; empty: Fashion-MNIST's when the path says so, else the digits */
    public static ImageDataset open(Path dir, Optional<List<String>> classNames) throws IOException {
        if (!Files.exists(dir)) throw new NoSuchFileException(dir.toString(), null, "IDX folder does not exist");
        if (!Files.isDirectory(dir)) {
            throw new DatasetFormatException(dir, "not a folder (an IDX dataset is a folder of *-idx3-ubyte and *-idx1-ubyte files)");
        }
        Path canonical = Fingerprints.canonical(dir);
        List<String> names = classNames.orElse(canonical.toString().toLowerCase(Locale.ROOT).contains("fashion")
                ? FASHION_MNIST_CLASSES : ClassNames.numbered(10));
        List<ArrayDataset.Block> blocks = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<Byte> splits = new ArrayList<>();
        StringBuilder files = new StringBuilder();
        for (String[] part : new String[][] {{"train", ImageDataset.TRAIN}, {"t10k", ImageDataset.TEST}}) {
            Path images = find(dir, part[0] + "-images-idx3-ubyte"), labelFile = find(dir, part[0] + "-labels-idx1-ubyte");
            if (images == null && labelFile == null) continue;
            if (images == null || labelFile == null) {
                throw new DatasetFormatException(dir, "has " + (images != null ? images : labelFile).getFileName() + " but no "
                        + part[0] + (images == null ? "-images-idx3-ubyte" : "-labels-idx1-ubyte") + "[.gz]");
            }
            Idx img = read(images, 3), lab = read(labelFile, 1);
            if (img.dims[0] != lab.dims[0]) {
                throw new DatasetFormatException(labelFile, "holds " + lab.dims[0] + " labels but " + images.getFileName() + " holds "
                        + img.dims[0] + " images");
            }
            for (int i = 0; i < lab.dims[0]; i++) {
                int v = lab.data.get(i) & 0xFF;
                if (v >= names.size()) {
                    throw new DatasetFormatException(labelFile, "label " + i + " is " + v + ", out of range (" + names.size() + " classes: 0.."
                            + (names.size() - 1) + ")");
                }
                labels.add(v);
                splits.add(SourceDataset.splitCode(part[1]));
            }
            blocks.add(new ArrayDataset.Block(img.data, 0, img.dims[0], img.dims[1], img.dims[2], 1));
            files.append(images.getFileName()).append(' ').append(Fingerprints.stat(images)).append(' ')
                    .append(labelFile.getFileName()).append(' ').append(Fingerprints.stat(labelFile)).append(';');
        }
        if (blocks.isEmpty()) {
            throw new DatasetFormatException(dir, "holds no IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                    + "t10k-labels-idx1-ubyte, optionally .gz)");
        }
        byte[] spl = new byte[splits.size()];
        for (int i = 0; i < spl.length; i++) spl[i] = splits.get(i);
        String identity = "idx:" + canonical + " files-sha256=" + Fingerprints.sha256(files.toString()) + " classes=" + Fingerprints.classes(names);
        return new ArrayDataset(canonical.getFileName().toString(), identity, names, false, labels.stream().mapToInt(Integer::intValue).toArray(), spl, blocks);
    }

    /** {@code base} or {@code base.gz} in dir, else null. */
    private static Path find(Path dir, String base) {
        for (String n : List.of(base, base + ".gz")) {
            Path p = dir.resolve(n);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }

    /** An IDX array of unsigned bytes with its dimensions. */
    private record Idx(int[] dims, LargeBytes data) {}

    private static Idx read(Path file, int rank) throws IOException {
        boolean gz = file.getFileName().toString().endsWith(".gz");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            InputStream in = java.nio.channels.Channels.newInputStream(ch);
            int[] dims = new int[rank];
            long n = 1;
            try {
                if (gz) in = new GZIPInputStream(new BufferedInputStream(in, 1 << 16), 1 << 16);
                DataInputStream d = new DataInputStream(in);
                int magic = d.readInt();
                if ((magic >>> 16) != 0 || ((magic >>> 8) & 0xFF) != UBYTE || (magic & 0xFF) != rank) {
                    throw new DatasetFormatException(file, String.format(
                            "bad IDX magic number 0x%08X (expected 0x%08X: unsigned bytes, %d dimension%s)",
                            magic, UBYTE << 8 | rank, rank, rank == 1 ? "" : "s"));
                }
                for (int i = 0; i < rank; i++) {
                    dims[i] = d.readInt();
                    if (dims[i] < (i == 0 ? 0 : 1)) throw new DatasetFormatException(file, "bad IDX dimension " + i + ": " + dims[i]);
                    n = Math.multiplyExact(n, dims[i]);
                }
            } catch (EOFException e) {
                throw new DatasetFormatException(file, "truncated IDX header");
            } catch (ZipException e) {
                throw new DatasetFormatException(file, "not valid gzip data (" + e.getMessage() + ")");
            }
            long header = 4 + 4L * rank;
            if (!gz) {
                long have = ch.size() - header;
                if (have != n) {
                    throw new DatasetFormatException(file, (have < n ? "truncated: " : "trailing bytes: ") + "dimensions "
                            + Arrays.toString(dims) + " need " + n + " data bytes but the file has " + have);
                }
                return new Idx(dims, LargeBytes.map(ch, header, n));
            }
            try {
                LargeBytes data = LargeBytes.read(file, in, n);  // short data: "truncated: ..." naming the file
                if (in.read() >= 0) {
                    throw new DatasetFormatException(file, "trailing bytes: dimensions " + Arrays.toString(dims) + " need " + n
                            + " data bytes, the file has more");
                }
                return new Idx(dims, data);
            } catch (EOFException | ZipException e) {
                throw new DatasetFormatException(file, "truncated or corrupt gzip data (" + e.getMessage() + ")");
            }
        }
    }
}
