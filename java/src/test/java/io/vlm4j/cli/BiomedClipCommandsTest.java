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
 * A BiomedCLIP-shaped open_clip directory (timm ViT + BERT with WordPiece, open_clip_config.json) through every
 * command: encode-texts, zero-shot, compare beside a CLIP model, lora-train contrastive with adapters in both towers,
 * lora-eval, and zero-shot with the trained adapter.
 */
class BiomedClipCommandsTest {

    @Test
    void everyCommandRunsOnABiomedClipDirectory(@TempDir Path tmp) throws Exception {
        Path model = TinyModels.writeBiomedClipModel(tmp.resolve("biomedclip"), 7);
        Path data = DatasetFiles.brightHalves(tmp.resolve("data"), 4, 2);
        Path img = data.resolve("val/left/0.png");

        Path textFile = Files.writeString(tmp.resolve("texts.txt"), "a photo of a left.\nthe right.\n");
        Path texts = tmp.resolve("texts.npy");
        Cli.Run enc = Cli.run("encode-texts", "--model", model.toString(), "--texts", textFile.toString(), "--out", texts.toString());
        assertEquals(0, enc.code(), enc.err());
        try (Tensor t = Npy.readFloat32(texts)) {
            assertEquals(List.of(2L, (long) TinyModels.BIOMED_EMBED), List.of(t.dim(0), t.dim(1)));
        }
        Path csv = tmp.resolve("zs.csv");
        Cli.Run zs = Cli.run("zero-shot", "--model", model.toString(), "--images", img.toString(), "--labels", "left,right,top", "--out", csv.toString());
        assertEquals(0, zs.code(), zs.err());
        String[] row = Files.readAllLines(csv).get(1).split(",");
        double sum = 0;
        for (int c = 1; c <= 3; c++) sum += Double.parseDouble(row[c]);
        assertEquals(1, sum, 1e-4, "a softmax over the labels");

        Path out = tmp.resolve("run");
        Cli.Run train = Cli.run("lora-train", "--model", model.toString(), "--train", "folder:" + data, "--out", out.toString(),
                "--objective", "contrastive", "--targets", "qkv,query,value", "--rank", "4", "--alpha", "8", "--epochs", "1",
                "--batch", "6", "--lr", "1e-2", "--backend", "cpu");
        assertEquals(0, train.code(), train.err());
        String config = Files.readString(out.resolve("adapter/adapter_config.json"));
        assertTrue(config.contains("qkv") && config.contains("query"), config);
        Cli.Run eval = Cli.run("lora-eval", "--model", model.toString(), "--adapter", out.resolve("adapter").toString(),
                "--dataset", "folder:" + data, "--split", "val", "--out", tmp.resolve("eval.json").toString(), "--backend", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(Files.readString(tmp.resolve("eval.json")).contains("\"accuracy\""));
        Cli.Run zsAdapted = Cli.run("zero-shot", "--model", model.toString(), "--images", img.toString(), "--labels", "left,right,top",
                "--adapter", out.resolve("adapter").toString());
        assertEquals(0, zsAdapted.code(), zsAdapted.err());

        Path report = tmp.resolve("report");
        Cli.Run cmp = Cli.run("compare", "--models", "clip=" + TinyModels.writeVisionModel(tmp.resolve("clip"), 1) + ",biomedclip=" + model,
                "--dataset", "folder:" + data, "--no-tsne", "--no-overlay", "--out", report.toString());
        assertEquals(0, cmp.code(), cmp.out() + cmp.err());
        assertTrue(Files.readString(report.resolve("report.md")).contains("biomedclip"));
    }
}
