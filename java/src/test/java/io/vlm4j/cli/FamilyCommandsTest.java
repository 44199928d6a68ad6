package io.vlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.Npy;
import io.vlm4j.io.WeightStore;
import io.vlm4j.model.clip.ClipModel;
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
 * Every command on a directory of each non-CLIP family: encode-texts, zero-shot, compare beside a CLIP model,
 * lora-train contrastive with adapters in both towers, lora-eval and zero-shot with the trained adapter. SigLIP (HF
 * config + safetensors + spiece.model: tokenize, sigmoid zero-shot, sigmoid-loss training) and BiomedCLIP (open_clip
 * directory with a timm ViT and a BERT with WordPiece: softmax zero-shot, InfoNCE training).
 */
class FamilyCommandsTest {

    @Test
    void siglipDirectory(@TempDir Path tmp) throws Exception {
        Path model = TinyModels.writeSiglipModel(tmp.resolve("siglip"), 3);
        Path textFile = texts(tmp);
        Path ids = tmp.resolve("ids.npy");
        Cli.Run tok = Cli.run("tokenize", "--model", model.toString(), "--texts", textFile.toString(), "--out", ids.toString());
        assertEquals(0, tok.code(), tok.err());
        try (Tensor t = Npy.readInt32(ids)) {
            assertEquals(List.of(2L, 64L), List.of(t.dim(0), t.dim(1)), "SigLIP pads to its 64 positions");
            assertEquals(1, t.toIntArray()[63], "</s> (1) pads the end: the last position, which SigLIP pools, holds it");
        }
        double[] p = everyCommand(tmp, model, 32, "q_proj,v_proj,fc1", "2e-3");
        double sum = 0;
        for (double v : p) {
            assertTrue(v > 0 && v < 1, "a sigmoid probability: " + v);
            sum += v;
        }
        assertTrue(Math.abs(sum - 1) > 1e-3, "independent sigmoids, not a softmax (sum " + sum + ")");
    }

    @Test
    void biomedClipDirectory(@TempDir Path tmp) throws Exception {
        Path model = TinyModels.writeBiomedClipModel(tmp.resolve("biomedclip"), 7);
        double[] p = everyCommand(tmp, model, TinyModels.BIOMED_EMBED, "qkv,query,value", "1e-2");
        assertEquals(1, p[0] + p[1] + p[2], 1e-4, "a softmax over the labels");
    }

    private static Path texts(Path tmp) throws Exception {
        return Files.writeString(tmp.resolve("texts.txt"), "A chest X-ray, showing pneumonia!\na photo of a left.\n");
    }

    /**
     * Runs the commands every family takes on {@code model} and checks what holds for all; returns the zero-shot
     * probabilities of one image over the labels left, right, top.
     */
    private static double[] everyCommand(Path tmp, Path model, int embed, String targets, String lr) throws Exception {
        Path data = DatasetFiles.brightHalves(tmp.resolve("data"), 4, 2);
        Path img = data.resolve("val/left/0.png");
        Path emb = tmp.resolve("texts.npy");
        Cli.Run enc = Cli.run("encode-texts", "--model", model.toString(), "--texts", texts(tmp).toString(), "--out", emb.toString());
        assertEquals(0, enc.code(), enc.err());
        try (Tensor t = Npy.readFloat32(emb)) {
            assertEquals(List.of(2L, (long) embed), List.of(t.dim(0), t.dim(1)));
        }
        Cli.Run encImg = Cli.run("encode-images", "--model", model.toString(), "--images", img.toString(), "--out", tmp.resolve("i.npy").toString());
        assertEquals(0, encImg.code(), encImg.err());

        Path csv = tmp.resolve("zs.csv");
        Cli.Run zs = Cli.run("zero-shot", "--model", model.toString(), "--images", img.toString(), "--labels", "left,right,top", "--out", csv.toString());
        assertEquals(0, zs.code(), zs.err());
        String[] row = Files.readAllLines(csv).get(1).split(",");
        double[] probs = {Double.parseDouble(row[1]), Double.parseDouble(row[2]), Double.parseDouble(row[3])};

        Path out = tmp.resolve("run");
        Cli.Run train = Cli.run("lora-train", "--model", model.toString(), "--train", "folder:" + data, "--out", out.toString(),
                "--objective", "contrastive", "--targets", targets, "--rank", "4", "--alpha", "8", "--epochs", "1",
                "--batch", "6", "--lr", lr, "--backend", "cpu");
        assertEquals(0, train.code(), train.err());
        String config = Files.readString(out.resolve("adapter/adapter_config.json"));
        for (String t : targets.split(",")) assertTrue(config.contains("\"" + t + "\""), t + " in " + config);
        // the trained temperature (and SigLIP bias) beside the adapter, taken by --adapter
        AdapterOption option = new AdapterOption();
        option.adapter = out.resolve("adapter");
        try (ClipModel clip = ClipModel.load(model); WeightStore logits = WeightStore.open(out.resolve("adapter/logits.safetensors"));
             Tensor scale = logits.load("logit_scale", 1)) {
            assertEquals(clip.sigmoidLogits(), logits.contains("logit_bias"), "a logit bias exactly for sigmoid-loss models");
            option.apply(clip);
            assertEquals(scale.toFloatArray()[0], clip.logitScale(), "the trained logit scale is applied");
        }
        Cli.Run eval = Cli.run("lora-eval", "--model", model.toString(), "--adapter", out.resolve("adapter").toString(),
                "--dataset", "folder:" + data, "--split", "val", "--out", tmp.resolve("eval.json").toString(), "--backend", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(Files.readString(tmp.resolve("eval.json")).contains("\"accuracy\""));
        Cli.Run zsAdapted = Cli.run("zero-shot", "--model", model.toString(), "--images", img.toString(), "--labels", "left,right,top",
                "--adapter", out.resolve("adapter").toString());
        assertEquals(0, zsAdapted.code(), zsAdapted.err());

        Path report = tmp.resolve("report");
        Cli.Run cmp = Cli.run("compare", "--models", "clip=" + TinyModels.writeVisionModel(tmp.resolve("clip"), 1) + ",other=" + model,
                "--dataset", "folder:" + data, "--no-tsne", "--no-overlay", "--out", report.toString());
        assertEquals(0, cmp.code(), cmp.out() + cmp.err());
        assertTrue(Files.readString(report.resolve("report.md")).contains("other"));
        return probs;
    }
}
