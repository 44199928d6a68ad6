package io.vlm4j.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.data.Datasets;
import io.vlm4j.data.ImageDataset;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.io.WeightStore;
import io.vlm4j.model.ImageTower;
import io.vlm4j.model.ModelFamiliesTest;
import io.vlm4j.model.Tape;
import io.vlm4j.model.bert.BertConfig;
import io.vlm4j.model.bert.BertTextTower;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ModelFamilies;
import io.vlm4j.model.vit.TimmVitConfig;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.testing.DatasetFiles;
import io.vlm4j.testing.LoraFiniteDifferences;
import io.vlm4j.train.AdamW;
import io.vlm4j.train.LoraTrainer;
import io.vlm4j.train.LrSchedule;
import io.vlm4j.train.Parameter;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA on BiomedCLIP (timm ViT trunk + open_clip head, PEFT module paths {@code visual.trunk.blocks.i.attn.qkv},
 * {@code attn.proj}, {@code mlp.fc1/fc2}, {@code visual.head.proj}; BERT text tower, {@code text.transformer.encoder.layer.i.*}
 * and {@code text.proj.0/2}): image-tower gradients vs float64 finite differences (the text tower's are in
 * {@code BertLoraTest}), a classification run and a contrastive run through both towers, on the tiny timm + BERT fixtures.
 */
class LoraBiomedClipTest {
    static final TimmVitConfig TINY = new TimmVitConfig(32, 8, 3, 32, 2, 4, 128, TimmVitConfig.TIMM_EPS, "gelu", true, false, true, "token",
            true, "linear", 24);

    static ClipModel model(Backend backend, WeightStore vision, WeightStore text) throws Exception {
        return ModelFamilies.biomedClip(backend, TINY, BertConfig.load(ModelFamiliesTest.res("/bert/config.json")),
                BertTextTower.Pooling.CLS_LAST_HIDDEN_STATE, BertTextTower.Projection.MLP, 24, ModelFamiliesTest.union(vision, text));
    }

    static double loss(ClipModel m, Tensor px) {
        try (Tensor e = m.encodeImages(px, true)) {
            float[] v = e.toFloatArray();
            double s = 0;
            for (int i = 0; i < v.length; i++) s += v[i] * Math.sin(0.7 * i + 0.3);  // a fixed linear read-out of the unit embeddings
            return s;
        }
    }

    @Test
    void timmAdapterGradientsMatchFiniteDifferences() throws Exception {
        try (ReferenceBackend ref = new ReferenceBackend(); WeightStore vs = WeightStore.open(ModelFamiliesTest.res("/vit/timm_vit.safetensors"));
             WeightStore ts = WeightStore.open(ModelFamiliesTest.res("/bert/model.safetensors")); ClipModel m = model(ref, vs, ts);
             Tensor px = io.vlm4j.io.Npy.readFloat32(ModelFamiliesTest.res("/vit/timm_pixel_values.npy"))) {
            List<String> names = m.linears().stream().map(LoraWeights.Linear::path).toList();
            assertTrue(names.contains("visual.trunk.blocks.1.attn.qkv") && names.contains("visual.head.proj"), names.toString());
            LoraWeights w = LoraWeights.init(LoraConfig.of(List.of("qkv", "proj", "fc1", "fc2"), 2, 4, false, 0), m.linears(), 3);
            SplittableRandom r = new SplittableRandom(4);
            for (LoraWeights.Module mod : w.modules()) {
                float[] b = new float[(int) mod.b().numel()];
                for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextGaussian() * 0.2);
                mod.b().copyFrom(b);
            }
            assertEquals(2 * 4 + 1, w.size(), "qkv, attn.proj, fc1, fc2 of 2 blocks and visual.head.proj");
            LoraState state = m.attachLora(w);
            ImageTower v = m.vision().orElseThrow();
            int b = (int) px.dim(0);
            try (TensorScope s = new TensorScope()) {
                Tensor emb = s.f32(b, 24), u = s.f32(b, 24), du = s.f32(b, 24), dEmb = s.f32(b, 24);
                try (Tape tape = v.forwardTrain(px, emb, false)) {
                    ref.l2Normalize(emb, 1e-12f, u);
                    float[] g = new float[b * 24];
                    for (int i = 0; i < g.length; i++) g[i] = (float) Math.sin(0.7 * i + 0.3);
                    du.copyFrom(g);
                    ref.l2NormalizeBackward(emb, 1e-12f, du, dEmb);
                    v.backward(tape, dEmb);
                }
            }
            double worst = LoraFiniteDifferences.check(state, LoraFiniteDifferences.gradients(state), () -> loss(m, px), 24, 4, 2e-3);
            List<Parameter> ps = state.parameters();
            System.out.printf("BiomedCLIP timm LoRA gradients vs finite differences: worst |diff| / max|grad| = %.2e%n", worst);
            assertTrue(ps.get(0).name().startsWith("base_model.model.visual.trunk.blocks.0.attn.qkv.lora_"), ps.get(0).name());
        }
    }

    /** The PEFT adapter of the BERT fixture (bert_lora/, every text Linear) through the whole model: attach, merge, unmerge. */
    @Test
    void peftTextAdapterThroughTheModel() throws Exception {
        try (CpuBackend cpu = new CpuBackend(); WeightStore vs = WeightStore.open(ModelFamiliesTest.res("/vit/timm_vit.safetensors"));
             WeightStore ts = WeightStore.open(ModelFamiliesTest.res("/bert/model.safetensors")); ClipModel m = model(cpu, vs, ts);
             Tensor ids = io.vlm4j.io.Npy.readInt32(ModelFamiliesTest.res("/bert/input_ids.npy"));
             Tensor want = io.vlm4j.io.Npy.readFloat32(ModelFamiliesTest.res("/bert_lora/adapter_text_embeds.npy"));
             Tensor wantMerged = io.vlm4j.io.Npy.readFloat32(ModelFamiliesTest.res("/bert_lora/adapter_merged_text_embeds.npy"));
             LoraWeights w = LoraWeights.load(ModelFamiliesTest.res("/bert_lora/adapter"), m.linears())) {
            float[] base;
            try (Tensor t = m.encodeTexts(ids, false)) {
                base = t.toFloatArray();
            }
            m.attachLora(w);
            try (Tensor t = m.encodeTexts(ids, false)) {
                PeftFixtureTest.assertClose(want.toFloatArray(), t.toFloatArray(), 1e-5, "BiomedCLIP BERT adapter (unmerged)");
            }
            m.detachLora();
            m.mergeLora(w);
            try (Tensor t = m.encodeTexts(ids, false)) {
                PeftFixtureTest.assertClose(wantMerged.toFloatArray(), t.toFloatArray(), 1e-5, "BiomedCLIP BERT adapter (merged)");
            }
            m.unmergeLora(w);
            try (Tensor t = m.encodeTexts(ids, false)) {
                PeftFixtureTest.assertClose(base, t.toFloatArray(), 1e-5, "BiomedCLIP BERT adapter merged and unmerged vs base");
            }
        }
    }

    /** A WordPiece vocabulary for the BERT fixture (100 ids, PubMedBERT's special-token ids) covering the trainer's prompts. */
    static Path vocab(Path dir) throws Exception {
        List<String> words = new java.util.ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", "the",
                "left", "right", "top", "side", "."));
        while (words.size() < 100) words.add("w" + words.size());
        java.nio.file.Files.createDirectories(dir);
        java.nio.file.Files.write(dir.resolve("vocab.txt"), words);
        return dir;
    }

    /**
     * Contrastive training (FLYP-style) through both BiomedCLIP towers, with activation checkpointing: the loss falls
     * and the BERT tower's adapters (q/v/dense and both MLP projection Linears) are trained along with the image tower's.
     * The prompts are tokenized to 77 ids, longer than the fixture's 40 positions: the context-limited wrapper cuts the
     * padding off before the training forward, whose tape must own its copies of the short-lived ids and mask.
     */
    @Test
    void contrastiveTrainsTheBertTower(@TempDir Path tmp) throws Exception {
        ImageDataset all = Datasets.open("folder:" + DatasetFiles.brightHalves(tmp.resolve("data"), 8, 2));
        io.vlm4j.text.Tokenizer tok = io.vlm4j.text.Tokenizers.load(vocab(tmp.resolve("tokenizer")));
        try (CpuBackend cpu = new CpuBackend(); WeightStore vs = WeightStore.open(ModelFamiliesTest.res("/vit/timm_vit.safetensors"));
             WeightStore ts = WeightStore.open(ModelFamiliesTest.res("/bert/model.safetensors")); ClipModel m = model(cpu, vs, ts);
             LoraWeights init = LoraWeights.init(LoraConfig.of(List.of("qkv", "query", "value", "dense", "proj.0", "proj.2"), 4, 8, false, 0),
                     m.linears(), 0)) {
            assertTrue(init.module("text.transformer.encoder.layer.1.output.dense") != null && init.module("text.proj.2") != null);
            ImagePreprocessor pre = ImagePreprocessor.load(tmp, 32, ImagePreprocessor.Pipeline.HF);
            LoraTrainer.Options o = new LoraTrainer.Options(LoraTrainer.Objective.CONTRASTIVE, 8, 0, 6, 1, 1e-2, LrSchedule.Kind.CONSTANT, 0,
                    1.0, AdamW.Hyper.TORCH, 1, true, 0, 0, List.of("a photo of the {} side."), 77);
            LoraTrainer.Result r = new LoraTrainer(m, pre, all.split("train"), all.split("val"), tok, o, tmp.resolve("out"), null).run(init, false);
            int n = r.steps().size();
            double first = (r.steps().get(0).loss() + r.steps().get(1).loss()) / 2, last = (r.steps().get(n - 1).loss() + r.steps().get(n - 2).loss()) / 2;
            System.out.printf("BiomedCLIP LoRA contrastive: loss %.3f -> %.3f, zero-shot validation accuracy %.3f%n", first, last, r.finalValAccuracy());
            assertTrue(last < first, "contrastive loss " + first + " -> " + last);
            try (LoraWeights trained = LoraWeights.load(r.adapterDir(), m.linears())) {
                assertTrue(trained.modules().stream().anyMatch(mod -> mod.path().startsWith("text.transformer.")), "text adapters saved");
                for (LoraWeights.Module mod : trained.modules()) {  // B starts at zero: each one moved, in both towers
                    float bmax = 0;
                    for (float x : mod.b().toFloatArray()) bmax = Math.max(bmax, Math.abs(x));
                    assertTrue(bmax > 0, mod.path() + ": lora_B still zero after training");
                }
            }
        }
    }

    @Test
    void loraTrainClassifiesWithBiomedClip(@TempDir Path tmp) throws Exception {
        ImageDataset all = Datasets.open("folder:" + DatasetFiles.brightHalves(tmp.resolve("data"), 8, 4));
        try (CpuBackend cpu = new CpuBackend(); WeightStore vs = WeightStore.open(ModelFamiliesTest.res("/vit/timm_vit.safetensors"));
             WeightStore ts = WeightStore.open(ModelFamiliesTest.res("/bert/model.safetensors")); ClipModel m = model(cpu, vs, ts);
             LoraWeights init = LoraWeights.init(LoraConfig.of(List.of("qkv", "fc1"), 4, 8, false, 0), m.linears(), 1)) {
            ImagePreprocessor pre = ImagePreprocessor.load(tmp, 32, ImagePreprocessor.Pipeline.HF);
            LoraTrainer.Options o = new LoraTrainer.Options(LoraTrainer.Objective.CLASSIFY, 6, 0, 6, 1, 1e-2, LrSchedule.Kind.COSINE, 0.1, 1.0,
                    AdamW.Hyper.TORCH, 2, false, 0, 0, List.of(), 77);
            LoraTrainer.Result res = new LoraTrainer(m, pre, all.split("train"), all.split("val"), null, o, tmp.resolve("out"), null).run(init, false);
            double first = res.steps().get(0).loss(), last = res.steps().get(res.steps().size() - 1).loss();
            System.out.printf("BiomedCLIP LoRA classify: loss %.3f -> %.3f, validation accuracy %.3f%n", first, last, res.finalValAccuracy());
            assertTrue(last < first, "loss falls: " + first + " -> " + last);
            try (LoraWeights trained = LoraWeights.load(res.adapterDir(), m.linears())) {
                assertTrue(trained.module("visual.trunk.blocks.0.attn.qkv") != null);
            }
        }
    }
}
