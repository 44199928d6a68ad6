package io.vlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Cli;
import io.vlm4j.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** lora-train, lora-eval and --adapter end to end through the CLI, and their one-line errors. */
class LoraCommandsTest {

    @Test
    void trainEvaluateAndEncodeWithTheAdapter(@TempDir Path tmp) throws Exception {
        Path model = TinyModels.writeVisionModel(tmp.resolve("model"), 1);
        Path data = io.vlm4j.testing.DatasetFiles.brightHalves(tmp.resolve("data"), 8, 4);
        Path out = tmp.resolve("run");
        Cli.Run train = Cli.run("lora-train", "--model", model.toString(), "--train", "folder:" + data, "--out", out.toString(),
                "--targets", "q_proj,v_proj,fc1", "--rank", "4", "--alpha", "8", "--epochs", "5", "--batch", "6", "--lr", "1e-2",
                "--checkpoint-every", "3", "--backend", "cpu");
        assertEquals(0, train.code(), train.err());
        assertTrue(train.out().contains("epoch 5"), train.out());
        for (String f : new String[] {"adapter/adapter_config.json", "adapter/adapter_model.safetensors", "adapter/head.safetensors",
                "metrics.csv", "epochs.csv", "curves.png", "checkpoint/optimizer.safetensors", "checkpoint/trainer_state.json"}) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        Cli.Run eval = Cli.run("lora-eval", "--model", model.toString(), "--adapter", out.resolve("adapter").toString(),
                "--dataset", "folder:" + data, "--split", "val", "--out", tmp.resolve("eval.json").toString(), "--backend", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("(head, 12 items, 3 classes)"), eval.out());
        assertTrue(Files.readString(tmp.resolve("eval.json")).contains("\"accuracy\""));
        // encode-images with and without the adapter: the adapter changes the embeddings
        Path img = data.resolve("val/left/0.png");
        assertEquals(0, Cli.run("encode-images", "--model", model.toString(), "--images", img.toString(), "--out", tmp.resolve("a.npy").toString()).code());
        Cli.Run withAdapter = Cli.run("encode-images", "--model", model.toString(), "--images", img.toString(), "--out", tmp.resolve("b.npy").toString(),
                "--adapter", out.resolve("adapter").toString());
        assertEquals(0, withAdapter.code(), withAdapter.err());
        try (Tensor a = Npy.readFloat32(tmp.resolve("a.npy")); Tensor b = Npy.readFloat32(tmp.resolve("b.npy"))) {
            float[] x = a.toFloatArray(), y = b.toFloatArray();
            double d = 0;
            for (int i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
            assertTrue(d > 1e-4, "the adapter moved the embedding (max |diff| " + d + ")");
        }
        // resume of a finished run: nothing left to do, same adapter
        Cli.Run again = Cli.run("lora-train", "--model", model.toString(), "--train", "folder:" + data, "--out", out.toString(),
                "--targets", "q_proj,v_proj,fc1", "--rank", "4", "--alpha", "8", "--epochs", "5", "--batch", "6", "--lr", "1e-2", "--resume");
        assertEquals(0, again.code(), again.err());
    }

    @Test
    void badInputsGiveOneLineErrors(@TempDir Path tmp) throws Exception {
        Path model = TinyModels.writeVisionModel(tmp.resolve("model"), 1);
        Path data = io.vlm4j.testing.DatasetFiles.brightHalves(tmp.resolve("data"), 2, 1);
        Cli.Run noTarget = Cli.run("lora-train", "--model", model.toString(), "--train", "folder:" + data, "--out", tmp.resolve("o").toString(),
                "--targets", "query,value");
        assertEquals(2, noTarget.code());
        assertTrue(noTarget.err().contains("match no Linear module"), noTarget.err());
        Cli.Run resume = Cli.run("lora-train", "--model", model.toString(), "--train", "folder:" + data, "--out", tmp.resolve("o2").toString(), "--resume");
        assertEquals(2, resume.code());
        assertTrue(resume.err().contains("no checkpoint"), resume.err());
        Cli.Run contrastive = Cli.run("lora-train", "--model", model.toString(), "--train", "folder:" + data, "--out", tmp.resolve("o3").toString(),
                "--objective", "contrastive");
        assertTrue(contrastive.code() == 2 && contrastive.err().contains("error: ") && contrastive.err().contains("tokenizer"), contrastive.err());
        Files.createDirectories(tmp.resolve("empty"));
        Cli.Run noAdapter = Cli.run("encode-images", "--model", model.toString(), "--images", data.resolve("val/left/0.png").toString(),
                "--out", tmp.resolve("x.npy").toString(), "--adapter", tmp.resolve("empty").toString(), "--backend", "cpu");
        assertEquals(2, noAdapter.code());
        assertTrue(noAdapter.err().contains("adapter_config.json"), noAdapter.err());
        assertEquals(1, noAdapter.err().strip().split("\n").length, noAdapter.err());
    }
}
