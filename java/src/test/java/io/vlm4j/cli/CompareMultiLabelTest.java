package io.vlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.testing.Cli;
import io.vlm4j.testing.DatasetFiles;
import io.vlm4j.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `compare` on a multi-label MedMNIST-layout file (ChestMNIST-like: gray 28x28, [N, 3] 0/1 labels) with an
 * image-only model: one binary linear probe per label, zero-shot and the single-label analyses skipped with notes.
 * Label 0 is drawn into the images (a bright corner), so its probe must find it; labels 1 and 2 are noise.
 */
class CompareMultiLabelTest {
    @TempDir
    Path tmp;

    private static byte[][] split(int n, SplittableRandom r) {
        byte[] img = new byte[n * 28 * 28], lab = new byte[n * 3];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < 28 * 28; p++) img[i * 784 + p] = (byte) r.nextInt(120);
            for (int k = 0; k < 3; k++) lab[i * 3 + k] = (byte) (r.nextInt(10) < 3 ? 1 : 0);
            if (lab[i * 3] == 1) for (int y = 0; y < 10; y++) for (int x = 0; x < 10; x++) img[i * 784 + y * 28 + x] = (byte) 255;
        }
        return new byte[][] {img, lab};
    }

    @Test
    void perLabelProbesOnAMultiLabelSet() throws Exception {
        SplittableRandom r = new SplittableRandom(3);
        List<DatasetFiles.Entry> entries = new ArrayList<>();
        for (String s : List.of("train", "val", "test")) {
            int n = s.equals("train") ? 240 : 80;
            byte[][] d = split(n, r);
            entries.add(new DatasetFiles.Entry(s + "_images.npy", DatasetFiles.npy("|u1", new long[] {n, 28, 28}, d[0]), true));
            entries.add(new DatasetFiles.Entry(s + "_labels.npy", DatasetFiles.npy("|u1", new long[] {n, 3}, d[1]), true));
        }
        Path npz = tmp.resolve("chestlike.npz");
        Files.write(npz, DatasetFiles.zip(entries, false));
        Path names = Files.writeString(tmp.resolve("names.txt"), "effusion\nnodule\npneumonia\n");
        Path model = TinyModels.writeVisionModel(tmp.resolve("model"), 1);
        Path out = tmp.resolve("report");
        Cli.Run run = Cli.run("compare", "--models", model.toString(), "--dataset", "medmnist:" + npz, "--class-names", names.toString(),
                "--out", out.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        JsonNode m = new ObjectMapper().readTree(out.resolve("report.json").toFile()).get("models").get(0);
        assertTrue(m.get("zeroShot").isNull() && m.get("zeroShotMulti").isNull(), "no text tower: no zero-shot");
        JsonNode probes = m.get("labelProbes");
        assertEquals(3, probes.size());
        assertEquals("effusion", probes.get(0).get("label").asText());
        assertTrue(probes.get(0).get("auroc").asDouble() > 0.9, "the drawn label is found: " + probes.get(0));
        for (int k = 1; k < 3; k++) {
            double auc = probes.get(k).get("auroc").asDouble();
            assertTrue(auc > 0.2 && auc < 0.8, "noise labels stay near chance: " + probes.get(k));
        }
        String md = Files.readString(out.resolve("report.md"));
        assertTrue(md.contains("Linear probe per label") && md.contains("zero-shot: skipped (the model has no text tower)"), md);
    }
}
