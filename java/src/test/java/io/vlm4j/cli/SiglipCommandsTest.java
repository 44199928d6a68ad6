package io.vlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Cli;
import io.vlm4j.testing.DatasetFiles;
import io.vlm4j.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A SigLIP directory (HF config + safetensors + spiece.model) through every command: tokenize, encode-texts,
 * encode-images, zero-shot (each label's sigmoid with the model's scale and bias), compare beside a CLIP model, and
 * lora-train with the sigmoid contrastive loss, then lora-eval and zero-shot with the trained adapter.
 */
class SiglipCommandsTest {

    @Test
    void everyCommandRunsOnASiglipDirectory(@TempDir Path tmp) throws Exception {
        Path model = TinyModels.writeSiglipModel(tmp.resolve("siglip"), 3);
        Path data = DatasetFiles.brightHalves(tmp.resolve("data"), 6, 3);
        Path img = data.resolve("val/left/0.png");

        Path textFile = Files.writeString(tmp.resolve("texts.txt"), "A chest X-ray, showing pneumonia!\na photo of a left.\n");
        Path ids = tmp.resolve("ids.npy");
        Cli.Run tok = Cli.run("tokenize", "--model", model.toString(), "--texts", textFile.toString(), "--out", ids.toString());
        assertEquals(0, tok.code(), tok.err());
        try (Tensor t = Npy.readInt32(ids)) {
            int[] v = t.toIntArray();
            assertEquals(List.of(2L, 64L), List.of(t.dim(0), t.dim(1)), "SigLIP pads to its 64 positions");
            assertEquals(1, v[63], "</s> (1) pads the end: the last position, which SigLIP pools, holds it");
        }
        Path texts = tmp.resolve("texts.npy");
        Cli.Run enc = Cli.run("encode-texts", "--model", model.toString(), "--texts", textFile.toString(), "--out", texts.toString());
        assertEquals(0, enc.code(), enc.err());
        try (Tensor t = Npy.readFloat32(texts)) {
            assertEquals(List.of(2L, 32L), List.of(t.dim(0), t.dim(1)));
        }
        Cli.Run encImg = Cli.run("encode-images", "--model", model.toString(), "--images", img.toString(), "--out", tmp.resolve("i.npy").toString());
        assertEquals(0, encImg.code(), encImg.err());

        Path csv = tmp.resolve("zs.csv");
        Cli.Run zs = Cli.run("zero-shot", "--model", model.toString(), "--images", img.toString(), "--labels", "left,right,top", "--out", csv.toString());
        assertEquals(0, zs.code(), zs.err());
        String[] row = Files.readAllLines(csv).get(1).split(",");
        double sum = 0;
        for (int c = 1; c <= 3; c++) {
            double p = Double.parseDouble(row[c]);
            assertTrue(p > 0 && p < 1, "a sigmoid probability: " + p);
            sum += p;
        }
        assertTrue(Math.abs(sum - 1) > 1e-3, "independent sigmoids, not a softmax (sum " + sum + ")");

        Path out = tmp.resolve("run");
        Cli.Run train = Cli.run("lora-train", "--model", model.toString(), "--train", "folder:" + data, "--out", out.toString(),
                "--objective", "contrastive", "--targets", "q_proj,v_proj,fc1", "--rank", "4", "--alpha", "8", "--epochs", "2",
                "--batch", "6", "--lr", "2e-3", "--backend", "cpu");
        assertEquals(0, train.code(), train.err());
        assertTrue(Files.exists(out.resolve("adapter/adapter_model.safetensors")));
        String config = Files.readString(out.resolve("adapter/adapter_config.json"));
        assertTrue(config.contains("q_proj"), config);
        Cli.Run eval = Cli.run("lora-eval", "--model", model.toString(), "--adapter", out.resolve("adapter").toString(),
                "--dataset", "folder:" + data, "--split", "val", "--out", tmp.resolve("eval.json").toString(), "--backend", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(Files.readString(tmp.resolve("eval.json")).contains("\"accuracy\""));
        Path report = tmp.resolve("report");
        Cli.Run cmp = Cli.run("compare", "--models", "clip=" + TinyModels.writeVisionModel(tmp.resolve("clip"), 1) + ",siglip=" + model,
                "--dataset", "folder:" + data, "--no-tsne", "--out", report.toString());
        assertEquals(0, cmp.code(), cmp.out() + cmp.err());
        String md = Files.readString(report.resolve("report.md"));
        assertTrue(md.contains("siglip") && md.contains("clip"), md);
        Cli.Run zsAdapted = Cli.run("zero-shot", "--model", model.toString(), "--images", img.toString(), "--labels", "left,right,top",
                "--adapter", out.resolve("adapter").toString());
        assertEquals(0, zsAdapted.code(), zsAdapted.err());
    }
}
