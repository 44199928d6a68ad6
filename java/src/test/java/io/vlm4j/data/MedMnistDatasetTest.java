package io.vlm4j.data;

import static io.vlm4j.testing.DatasetFiles.bytes;
import static io.vlm4j.testing.DatasetFiles.images;
import static io.vlm4j.testing.DatasetFiles.int64s;
import static io.vlm4j.testing.DatasetFiles.npy;
import static io.vlm4j.testing.DatasetFiles.pixel;
import static io.vlm4j.testing.DatasetFiles.zip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.image.ImageDecoder;
import io.vlm4j.testing.DatasetFiles.Entry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MedMNIST .npz files in the layout medmnist writes (np.savez_compressed, keys train/val/test images then labels):
 * gray multi-class (like PneumoniaMNIST/OrganAMNIST) and RGB multi-label (like ChestMNIST's 0/1 columns), stored and
 * deflated; and every malformed variant.
 */
class MedMnistDatasetTest {
    @TempDir
    Path tmp;

    /** Per split sizes 5, 2, 3; gray [N, 6, 4] with uint8 labels [N, 1] in 0..2, or RGB [N, 6, 4, 3] with 4 label columns. */
    static Path write(Path file, boolean rgb, boolean deflate) throws IOException {
        int[] counts = {5, 2, 3};
        String[] splits = {"train", "val", "test"};
        List<Entry> imgs = new ArrayList<>(), labs = new ArrayList<>();
        int first = 0;
        for (int s = 0; s < 3; s++) {
            int n = counts[s];
            byte[] px = images(first + n, 6, 4, rgb ? 3 : 1);
            byte[] mine = java.util.Arrays.copyOfRange(px, first * 24 * (rgb ? 3 : 1), px.length);
            long[] shape = rgb ? new long[] {n, 6, 4, 3} : new long[] {n, 6, 4};
            imgs.add(new Entry(splits[s] + "_images.npy", npy("|u1", shape, mine), deflate));
            if (rgb) {
                long[] v = new long[n * 4];
                for (int i = 0; i < n; i++) for (int c = 0; c < 4; c++) v[i * 4 + c] = ((first + i) >> c) & 1;
                labs.add(new Entry(splits[s] + "_labels.npy", npy("<i8", new long[] {n, 4}, int64s(v)), deflate));
            } else {
                byte[] v = new byte[n];
                for (int i = 0; i < n; i++) v[i] = (byte) ((first + i) % 3);
                labs.add(new Entry(splits[s] + "_labels.npy", npy("|u1", new long[] {n, 1}, v), deflate));
            }
            first += n;
        }
        List<Entry> all = new ArrayList<>(imgs);
        all.addAll(labs);
        return Files.write(file, zip(all, false));
    }

    @Test
    void grayMultiClassStoredAndDeflated() throws Exception {
        for (boolean deflate : new boolean[] {false, true}) {
            ImageDataset d = Datasets.open("medmnist:" + write(tmp.resolve("g" + deflate + ".npz"), false, deflate));
            assertEquals(10, d.size());
            assertFalse(d.multiLabel());
            assertFalse(d.fileBased());
            assertEquals(List.of("0", "1", "2"), d.classNames());
            assertEquals(List.of("train", "val", "test"), d.splits());
            for (int i = 0; i < 10; i++) {
                assertEquals(i % 3, d.label(i));
                assertEquals(i < 5 ? "train" : i < 7 ? "val" : "test", d.split(i));
                ImageDecoder.Decoded im = d.image(i);
                assertEquals(3, im.channels(), "gray replicated to RGB");
                assertEquals(6, im.height());
                assertEquals(4, im.width());
                for (int y = 0; y < 6; y++) {
                    for (int x = 0; x < 4; x++) {
                        for (int c = 0; c < 3; c++) assertEquals(pixel(i, y, x, 0), im.pixels()[(y * 4 + x) * 3 + c] & 0xFF);
                    }
                }
            }
            assertArrayEquals(new int[] {0, 0, 1}, d.labelVector(5), "one-hot for single-label");
            assertTrue(d.identity().startsWith("medmnist:"), d.identity());
            assertEquals("g" + deflate, d.name());
            assertEquals("g" + deflate, d.split("val").name());
            assertEquals(3, d.split("test").size());
        }
    }

    @Test
    void rgbMultiLabelStoredAndDeflated() throws Exception {
        for (boolean deflate : new boolean[] {false, true}) {
            Path f = write(tmp.resolve("c" + deflate + ".npz"), true, deflate);
            ImageDataset d = Datasets.open(f.toString());  // recognized by its extension
            assertTrue(d.multiLabel());
            assertEquals(4, d.numClasses());
            for (int i = 0; i < 10; i++) {
                int[] v = d.labelVector(i);
                for (int c = 0; c < 4; c++) assertEquals((i >> c) & 1, v[c]);
                ImageDecoder.Decoded im = d.image(i);
                assertEquals(pixel(i, 5, 3, 2), im.pixels()[(5 * 4 + 3) * 3 + 2] & 0xFF);
            }
            int k = 3;
            assertThrows(IllegalStateException.class, () -> d.label(k));
        }
    }

    @Test
    void classNamesFromAFile() throws Exception {
        Path names = Files.writeString(tmp.resolve("classes.txt"), "normal\npneumonia\nother\n");
        ImageDataset d = Datasets.open("medmnist:" + write(tmp.resolve("g.npz"), false, true), Optional.of(names));
        assertEquals(List.of("normal", "pneumonia", "other"), d.classNames());
        Path two = Files.writeString(tmp.resolve("two.txt"), "normal\npneumonia\n");
        IOException e = assertThrows(IOException.class, () -> Datasets.open("medmnist:" + tmp.resolve("g.npz"), Optional.of(two)));
        assertTrue(e.getMessage().contains("train_labels[2] = 2 is out of range (2 classes: 0..1)"), e.getMessage());
    }

    private Path npz(String name, Entry... entries) throws IOException {
        return Files.write(tmp.resolve(name), zip(List.of(entries), false));
    }

    private String error(Path f) {
        return assertThrows(IOException.class, () -> Datasets.open("medmnist:" + f)).getMessage();
    }

    @Test
    void malformedFilesAreNamedWithTheirProblem() throws Exception {
        Entry img = new Entry("train_images.npy", npy("|u1", new long[] {2, 2, 2}, new byte[8]), true);
        Entry lab = new Entry("train_labels.npy", npy("|u1", new long[] {2, 1}, bytes(0, 1)), true);
        String e = error(npz("nolabels.npz", img));
        assertTrue(e.contains("nolabels.npz: has train_images but no train_labels array (arrays: train_images)"), e);
        e = error(npz("other.npz", new Entry("x.npy", npy("|u1", new long[] {1}, new byte[1]), false)));
        assertTrue(e.contains("other.npz: not a MedMNIST file"), e);
        e = error(npz("count.npz", img, new Entry("train_labels.npy", npy("|u1", new long[] {3, 1}, bytes(0, 1, 0)), true)));
        assertTrue(e.contains("count.npz: train_images holds 2 images but train_labels holds 3 labels"), e);
        e = error(npz("shape.npz", new Entry("train_images.npy", npy("|u1", new long[] {2, 4}, new byte[8]), true), lab));
        assertTrue(e.contains("shape.npz: train_images has shape [2, 4]; expected [N, H, W] or [N, H, W, 3]"), e);
        e = error(npz("dtype.npz", new Entry("train_images.npy", npy("<f4", new long[] {2, 1, 1}, new byte[8]), true), lab));
        assertTrue(e.contains("dtype.npz:train_images.npy: expected a uint8 array, found dtype '<f4'"), e);
        e = error(npz("neg.npz", img, new Entry("train_labels.npy", npy("<i8", new long[] {2, 1}, int64s(0, -1)), true)));
        assertTrue(e.contains("neg.npz: train_labels[1] = -1 is not a class index"), e);
        e = error(npz("multi.npz", img, new Entry("train_labels.npy", npy("|u1", new long[] {2, 2}, bytes(0, 1, 2, 0)), true)));
        assertTrue(e.contains("multi.npz: train_labels[1, 0] = 2 is not 0 or 1 (multi-label)"), e);
        Entry testImg = new Entry("test_images.npy", npy("|u1", new long[] {1, 2, 2}, new byte[4]), true);
        e = error(npz("cols.npz", img, lab, testImg, new Entry("test_labels.npy", npy("|u1", new long[] {1, 2}, bytes(0, 1)), true)));
        assertTrue(e.contains("cols.npz: test_labels has 2 label columns but the other splits have 1"), e);
        byte[] whole = Files.readAllBytes(npz("whole.npz", img, lab));
        Path cut = Files.write(tmp.resolve("cut.npz"), java.util.Arrays.copyOf(whole, whole.length - 30));
        e = error(cut);
        assertTrue(e.startsWith(cut.toString()), e);
        e = assertThrows(IOException.class, () -> Datasets.open("medmnist:" + tmp.resolve("absent.npz"))).getMessage();
        assertTrue(e.contains("absent.npz"), e);
    }
}
