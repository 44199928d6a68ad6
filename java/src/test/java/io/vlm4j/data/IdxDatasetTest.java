package io.vlm4j.data;

import static io.vlm4j.testing.DatasetFiles.gzip;
import static io.vlm4j.testing.DatasetFiles.idx;
import static io.vlm4j.testing.DatasetFiles.images;
import static io.vlm4j.testing.DatasetFiles.pixel;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.image.ImageDecoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MNIST-format IDX folders, plain and gzipped, the Fashion-MNIST names, malformed files; Debian's files when installed. */
class IdxDatasetTest {
    @TempDir
    Path tmp;

    /** train: 4 images 3x5 labels 0..3; t10k: 2 images labels 9, 5. */
    static Path write(Path dir, boolean gz) throws IOException {
        Files.createDirectories(dir);
        String ext = gz ? ".gz" : "";
        byte[] px = images(6, 3, 5, 1);
        put(dir.resolve("train-images-idx3-ubyte" + ext), idx(new int[] {4, 3, 5}, Arrays.copyOf(px, 60)), gz);
        put(dir.resolve("train-labels-idx1-ubyte" + ext), idx(new int[] {4}, new byte[] {0, 1, 2, 3}), gz);
        put(dir.resolve("t10k-images-idx3-ubyte" + ext), idx(new int[] {2, 3, 5}, Arrays.copyOfRange(px, 60, 90)), gz);
        put(dir.resolve("t10k-labels-idx1-ubyte" + ext), idx(new int[] {2}, new byte[] {9, 5}), gz);
        return dir;
    }

    private static void put(Path f, byte[] b, boolean gz) throws IOException {
        Files.write(f, gz ? gzip(b) : b);
    }

    @Test
    void plainAndGzippedFoldersRead() throws Exception {
        for (boolean gz : new boolean[] {false, true}) {
            Path dir = write(tmp.resolve("mnist-" + gz), gz);
            ImageDataset d = Datasets.open(dir.toString());  // recognized as IDX by its files
            assertEquals(6, d.size());
            assertEquals(List.of("train", "test"), d.splits());
            assertEquals(ClassNames.numbered(10), d.classNames());
            int[] labels = {0, 1, 2, 3, 9, 5};
            for (int i = 0; i < 6; i++) {
                assertEquals(labels[i], d.label(i));
                assertEquals(i < 4 ? "train" : "test", d.split(i));
                ImageDecoder.Decoded im = d.image(i);
                assertEquals(3, im.height());
                assertEquals(5, im.width());
                assertEquals(3, im.channels());
                assertEquals(pixel(i, 2, 4, 0), im.pixels()[(2 * 5 + 4) * 3 + 1] & 0xFF);
            }
            assertTrue(d.identity().startsWith("idx:"), d.identity());
        }
    }

    @Test
    void aFolderNamedFashionGetsFashionMnistClasses() throws Exception {
        ImageDataset d = Datasets.open("idx:" + write(tmp.resolve("fashion-mnist"), true));
        assertEquals(IdxDataset.FASHION_MNIST_CLASSES, d.classNames());
        assertEquals("fashion-mnist", d.name());
        assertEquals("Ankle boot", d.classNames().get(d.label(4)));
    }

    private String error(Path dir) {
        return assertThrows(IOException.class, () -> Datasets.open("idx:" + dir)).getMessage();
    }

    @Test
    void malformedFilesAreNamedWithTheirProblem() throws Exception {
        Path dir = write(tmp.resolve("m"), false);
        Path images = dir.resolve("train-images-idx3-ubyte"), labels = dir.resolve("train-labels-idx1-ubyte");
        byte[] img = Files.readAllBytes(images), lab = Files.readAllBytes(labels);

        Files.write(images, Arrays.copyOf(img, img.length - 7));
        String e = error(dir);
        assertTrue(e.startsWith(images + ": truncated: dimensions [4, 3, 5] need 60 data bytes but the file has 53"), e);
        Files.write(images, Arrays.copyOf(img, 10));
        e = error(dir);
        assertTrue(e.startsWith(images + ": truncated IDX header"), e);
        byte[] bad = img.clone();
        bad[2] = 0x0D;  // float
        Files.write(images, bad);
        e = error(dir);
        assertTrue(e.startsWith(images + ": bad IDX magic number 0x00000D03 (expected 0x00000803"), e);
        Files.write(images, lab);  // a labels file where images belong
        e = error(dir);
        assertTrue(e.contains("bad IDX magic number 0x00000801"), e);
        Files.write(images, img);

        Files.write(labels, idx(new int[] {3}, new byte[] {0, 1, 2}));
        e = error(dir);
        assertTrue(e.startsWith(labels + ": holds 3 labels but train-images-idx3-ubyte holds 4 images"), e);
        Files.write(labels, idx(new int[] {4}, new byte[] {0, 1, 10, 3}));
        e = error(dir);
        assertTrue(e.startsWith(labels + ": label 2 is 10, out of range (10 classes: 0..9)"), e);
        Files.write(labels, Arrays.copyOf(lab, lab.length + 2));
        e = error(dir);
        assertTrue(e.startsWith(labels + ": trailing bytes"), e);
        Files.delete(labels);
        e = error(dir);
        assertTrue(e.contains("has train-images-idx3-ubyte but no train-labels-idx1-ubyte[.gz]"), e);

        Path gzDir = write(tmp.resolve("g"), true);
        Path gzImages = gzDir.resolve("train-images-idx3-ubyte.gz");
        byte[] gz = Files.readAllBytes(gzImages);
        Files.write(gzImages, Arrays.copyOf(gz, gz.length - 12));
        e = error(gzDir);
        assertTrue(e.startsWith(gzImages + ": "), e);
        Files.write(gzImages, gzip(Arrays.copyOf(idx(new int[] {4, 3, 5}, new byte[60]), 50)));
        e = error(gzDir);
        assertTrue(e.startsWith(gzImages + ": truncated"), e);
        Files.write(gzImages, "not gzip".getBytes());
        e = error(gzDir);
        assertTrue(e.startsWith(gzImages + ": "), e);

        e = error(Files.createDirectories(tmp.resolve("empty")));
        assertTrue(e.contains("holds no IDX files"), e);
    }

    /** Debian's dataset-fashion-mnist package, or a folder named by VLM4J_FASHION_MNIST; skipped when neither is there. */
    @Test
    void debianFashionMnistWhenInstalled() throws Exception {
        String env = System.getenv("VLM4J_FASHION_MNIST");
        Path dir = env != null ? Path.of(env) : IdxDataset.DEBIAN_FASHION_MNIST;
        assumeTrue(Files.isRegularFile(dir.resolve("t10k-labels-idx1-ubyte.gz")),
                "Fashion-MNIST not installed at " + dir + " (apt-get install dataset-fashion-mnist): skipping");
        ImageDataset d = Datasets.open(dir.toString());
        assertEquals(70_000, d.size());
        assertEquals(IdxDataset.FASHION_MNIST_CLASSES, d.classNames());
        ImageDataset test = d.split("test");
        assertEquals(10_000, test.size());
        int[] count = new int[10];
        for (int i = 0; i < test.size(); i++) count[test.label(i)]++;
        for (int c = 0; c < 10; c++) assertEquals(1000, count[c], "test images of class " + c);
        assertEquals("Ankle boot", d.classNames().get(test.label(0)), "the first test image is an ankle boot");
        ImageDecoder.Decoded im = test.image(0);
        assertEquals(28, im.height());
        ImageDataset five = d.split("train").kShot(5, 1);
        assertEquals(50, five.size());
    }
}
