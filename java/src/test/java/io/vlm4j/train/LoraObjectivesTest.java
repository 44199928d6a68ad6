package io.vlm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.data.DatasetPixels;
import io.vlm4j.data.Datasets;
import io.vlm4j.data.ImageDataset;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.lora.LoraConfig;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ZeroShotClassifier;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.DatasetFiles;
import io.vlm4j.testing.Golden;
import io.vlm4j.text.Tokenizer;
import io.vlm4j.text.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The objectives that use the text tower, on the golden tiny CLIP with its tokenizer (skipped without ../shared/golden). */
class LoraObjectivesTest {
    static final List<String> TEMPLATES = List.of("a photo of the {} side.");

    static LoraTrainer.Options options(LoraTrainer.Objective objective, int epochs, double lr) {
        return new LoraTrainer.Options(objective, epochs, 0, 6, 1, lr, LrSchedule.Kind.CONSTANT, 0, 1.0, AdamW.Hyper.TORCH, 1, false, 0, 0,
                TEMPLATES, 77);
    }

    /** With a vanishing learning rate the zero-shot-initialized head is the zero-shot classifier: same validation accuracy. */
    @Test
    void zeroShotHeadStartsAsTheZeroShotClassifier(@TempDir Path tmp) throws Exception {
        Path golden = Golden.dir();
        Tokenizer tok = Tokenizers.load(golden.resolve("tokenizer"));
        ImageDataset all = Datasets.open("folder:" + DatasetFiles.brightHalves(tmp.resolve("data"), 4, 8));
        try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), new CpuBackend());
             LoraWeights init = LoraWeights.init(LoraConfig.of(List.of("q_proj", "v_proj"), 2, 4, false, 0), clip.linears(), 0)) {
            ImagePreprocessor pre = ImagePreprocessor.load(tmp, clip.vision().orElseThrow().imageSize(), ImagePreprocessor.Pipeline.HF);
            ImageDataset val = all.split("val");
            double zsAccuracy;
            ZeroShotClassifier zs = ZeroShotClassifier.build(clip, tok, val.classNames(), TEMPLATES, 77, 100f);
            try (Tensor px = DatasetPixels.preprocess(val, pre, 0, val.size()); Tensor emb = clip.encodeImages(px, true)) {
                int[] pred = zs.head().predict(emb.toFloatRows());
                int correct = 0;
                for (int i = 0; i < pred.length; i++) if (pred[i] == val.label(i)) correct++;
                zsAccuracy = (double) correct / pred.length;
            }
            LoraTrainer.Result r = new LoraTrainer(clip, pre, all.split("train"), val, tok, options(LoraTrainer.Objective.ZERO_SHOT_HEAD, 1, 1e-12),
                    tmp.resolve("out"), null).run(init, false);
            assertEquals(zsAccuracy, r.finalValAccuracy(), 1e-12, "zero-shot accuracy " + zsAccuracy);
        }
    }

    /** Contrastive (FLYP-style) training moves both towers' adapters and the temperature, and lowers the loss. */
    @Test
    void contrastiveTrainsBothTowersAndTheTemperature(@TempDir Path tmp) throws Exception {
        Path golden = Golden.dir();
        Tokenizer tok = Tokenizers.load(golden.resolve("tokenizer"));
        ImageDataset all = Datasets.open("folder:" + DatasetFiles.brightHalves(tmp.resolve("data"), 8, 2));
        try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), new CpuBackend());
             LoraWeights init = LoraWeights.init(LoraConfig.of(List.of("q_proj", "v_proj", "fc1"), 4, 8, false, 0), clip.linears(), 0)) {
            ImagePreprocessor pre = ImagePreprocessor.load(tmp, clip.vision().orElseThrow().imageSize(), ImagePreprocessor.Pipeline.HF);
            LoraTrainer.Result r = new LoraTrainer(clip, pre, all.split("train"), all.split("val"), tok, options(LoraTrainer.Objective.CONTRASTIVE, 8, 1e-2),
                    tmp.resolve("out"), null).run(init, false);
            int n = r.steps().size();
            double first = (r.steps().get(0).loss() + r.steps().get(1).loss()) / 2, last = (r.steps().get(n - 1).loss() + r.steps().get(n - 2).loss()) / 2;
            assertTrue(last < first, "contrastive loss " + first + " -> " + last);
            try (LoraWeights trained = LoraWeights.load(r.adapterDir(), clip.linears())) {
                double vision = 0, text = 0;
                for (LoraWeights.Module m : trained.modules()) {
                    double ss = 0;
                    for (float x : m.b().toFloatArray()) ss += x * x;
                    if (m.path().startsWith("text_model.")) text += ss;
                    else vision += ss;
                }
                assertTrue(vision > 0 && text > 0, "both towers' adapters trained: " + vision + ", " + text);
            }
            assertTrue(Files.readString(tmp.resolve("out/checkpoint/trainer_state.json")).contains("\"objective\" : \"contrastive\""));
        }
    }
}
