package io.vlm4j.cli;

import static io.vlm4j.testing.DatasetFiles.png;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Cli;
import io.vlm4j.testing.Cli.Run;
import io.vlm4j.testing.DatasetFiles;
import io.vlm4j.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** embed-dataset end to end on a tiny model written to disk: cache miss then hit, selections, labels, errors. */
class EmbedDatasetCliTest {
    @TempDir
    Path tmp;

    /** A folder dataset: classes a (4 images), b (3), c (2), 9x7 gray PNGs. */
    private Path folder() throws Exception {
        Path root = tmp.resolve("images");
        int k = 0;
        for (String c : List.of("a", "b", "c")) {
            for (int i = 0; i < (c.equals("a") ? 4 : c.equals("b") ? 3 : 2); i++) png(root.resolve(c + "/" + i + ".png"), 9, 7, 25 * k++);
        }
        return root;
    }

    @Test
    void cacheMissThenHitWithTheSameOutput() throws Exception {
        Path model = TinyModels.writeVisionModel(tmp.resolve("model"), 3);
        Path data = folder(), cache = tmp.resolve("cache"), out1 = tmp.resolve("e1.npy"), out2 = tmp.resolve("e2.npy");
        Path labels = tmp.resolve("l.npy");
        Run a = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", data.toString(), "--cache", cache.toString(),
                "--out", out1.toString(), "--labels-out", labels.toString(), "--backend", "cpu", "--batch", "4");
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().startsWith("cache miss: computed and stored: 9 items of " + data), a.out());
        Run b = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", "folder:" + data, "--cache", cache.toString(),
                "--out", out2.toString(), "--backend", "cpu");
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().startsWith("cache hit: 9 items"), b.out());
        assertEquals("", b.err());
        try (Tensor e1 = Npy.readFloat32(out1); Tensor e2 = Npy.readFloat32(out2); Tensor l = Npy.readInt32(labels)) {
            assertArrayEquals(new long[] {9, 16}, e1.shape());
            assertArrayEquals(e1.toFloatArray(), e2.toFloatArray());
            assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1, 2, 2}, l.toIntArray());
        }
        Run c = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", data.toString(), "--out", out1.toString(),
                "--k-shot", "2", "--seed", "4", "--normalize", "--labels-out", labels.toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().startsWith("computed (no cache): 6 items of " + data + " [kShot(2, seed 4)]"), c.out());
        try (Tensor e = Npy.readFloat32(out1); Tensor l = Npy.readInt32(labels)) {
            assertArrayEquals(new long[] {6, 16}, e.shape());
            float[] v = e.toFloatArray();
            double ss = 0;
            for (int j = 0; j < 16; j++) ss += v[j] * v[j];
            assertEquals(1.0, ss, 1e-5, "--normalize");
            assertArrayEquals(new int[] {0, 0, 1, 1, 2, 2}, l.toIntArray());
        }
    }

    @Test
    void medMnistSplitAndMultiLabelLabels() throws Exception {
        Path model = TinyModels.writeVisionModel(tmp.resolve("model"), 3);
        Path npz = io.vlm4j.data.MedMnistDatasetTestAccess.write(tmp.resolve("chest.npz"), true, true);
        Path out = tmp.resolve("e.npy"), labels = tmp.resolve("l.npy");
        Run r = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", "medmnist:" + npz, "--split", "test",
                "--out", out.toString(), "--labels-out", labels.toString());
        assertEquals(0, r.code(), r.err());
        try (Tensor e = Npy.readFloat32(out); Tensor l = Npy.readInt32(labels)) {
            assertArrayEquals(new long[] {3, 16}, e.shape());
            assertArrayEquals(new long[] {3, 4}, l.shape());
            assertArrayEquals(new int[] {1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1}, l.toIntArray(), "items 7, 8, 9, bits low to high");
        }
    }

    @Test
    void badInputsAreExit2WithOneLine() throws Exception {
        Path model = TinyModels.writeVisionModel(tmp.resolve("model"), 3);
        Path data = folder(), out = tmp.resolve("e.npy");
        Run r = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", data.toString(), "--out", out.toString(), "--k-shot", "3");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("class 'c' (2) has 2 items, fewer than k = 3"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        Path csv = Files.writeString(tmp.resolve("x.csv"), "path,label\nnope.png,0\n");
        r = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", csv.toString(), "--out", out.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: " + csv + ": line 2: no such image file 'nope.png'"), r.err());
        r = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", data.toString(), "--out", out.toString(), "--split", "val");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("no items in split 'val' (the dataset has no splits)"), r.err());
        r = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", data.toString(), "--out", out.toString(), "--on-error", "skip");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--on-error skip is not supported"), r.err());
        Files.write(data.resolve("a/0.png"), new byte[] {1, 2, 3});
        r = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", data.toString(), "--out", out.toString(), "--backend", "cpu");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: " + data.resolve("a/0.png")), r.err());
        assertFalse(Files.exists(out));
        r = Cli.run("embed-dataset", "--help");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Usage: vlm4j embed-dataset"), r.out());
        Path npz = Files.write(tmp.resolve("z.npz"), DatasetFiles.zip(List.of(), false));
        r = Cli.run("embed-dataset", "--model", model.toString(), "--dataset", npz.toString(), "--out", out.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: " + npz + ": not a MedMNIST file"), r.err());
    }
}
