package io.vlm4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.Npy;
import io.vlm4j.io.WeightStore;
import io.vlm4j.model.bert.BertConfig;
import io.vlm4j.model.bert.BertTextTower;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ModelFamilies;
import io.vlm4j.model.clip.RandomWeights;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.model.vit.TimmVitConfig;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Cli;
import io.vlm4j.testing.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The other families through the common model API (ClipModel.load → encodeImages / encodeTexts / similarity) and the
 * CLI: BiomedCLIP assembled from the timm and BERT fixtures (real timm 1.0.29 and transformers/open_clip outputs),
 * BiomedCLIP from an open_clip-layout directory, SigLIP from an HF export.
 */
public class ModelFamiliesTest {
    public static Path res(String p) throws Exception {
        return Path.of(ModelFamiliesTest.class.getResource(p).toURI());
    }

    static void assertClose(float[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what);
        double max = 0, scale = 1e-12;
        for (int i = 0; i < want.length; i++) {
            max = Math.max(max, Math.abs(want[i] - got[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        assertTrue(max <= tol * scale, what + ": max |diff| " + max + " of " + scale);
        System.out.printf("model families: %-45s max |diff| / max |ref| = %.2e%n", what, max / scale);
    }

    /** Names served from the first of several stores that has them (the two towers' fixture files side by side). */
    public static WeightSource union(WeightStore... stores) {
        return new WeightSource() {
            @Override
            public Tensor tensor(String name, long... shape) throws IOException {
                for (WeightStore s : stores) if (s.contains(name)) return s.load(name, shape);
                throw new ModelFormatException(Path.of("fixtures"), "no tensor '" + name + "'");
            }

            @Override
            public boolean contains(String name) {
                for (WeightStore s : stores) if (s.contains(name)) return true;
                return false;
            }

            @Override
            public String describe() { return "fixtures"; }
        };
    }

    @Test
    void biomedClipFromTheTimmAndBertFixtures() throws Exception {
        TimmVitConfig tiny = new TimmVitConfig(32, 8, 3, 32, 2, 4, 128, TimmVitConfig.TIMM_EPS, "gelu", true, false, true, "token", true,
                "linear", 24);
        BertConfig bert = BertConfig.load(res("/bert/config.json"));
        try (CpuBackend cpu = new CpuBackend(); WeightStore vision = WeightStore.open(res("/vit/timm_vit.safetensors"));
             WeightStore text = WeightStore.open(res("/bert/model.safetensors"));
             ClipModel m = ModelFamilies.biomedClip(cpu, tiny, bert, BertTextTower.Pooling.CLS_LAST_HIDDEN_STATE, BertTextTower.Projection.MLP,
                     24, union(vision, text));
             Tensor px = Npy.readFloat32(res("/vit/timm_pixel_values.npy")); Tensor ids = Npy.readInt32(res("/bert/input_ids.npy"));
             Tensor img = m.encodeImages(px, false); Tensor txt = m.encodeTexts(ids, false);
             Tensor wantImg = Npy.readFloat32(res("/vit/timm_image_embeds.npy"));
             Tensor wantTxt = Npy.readFloat32(res("/bert/expected_mlp_cls_last_hidden_state.npy"))) {
            assertEquals("biomedclip", m.family());
            assertEquals("timm-vit", m.vision().orElseThrow().family());
            assertEquals("bert", m.text().orElseThrow().family());
            assertClose(wantImg.toFloatArray(), img.toFloatArray(), 1e-5, "BiomedCLIP image vs timm + open_clip head");
            assertClose(wantTxt.toFloatArray(), txt.toFloatArray(), 1e-5, "BiomedCLIP text vs HF BERT + open_clip MLP");
            float[][] logits = m.similarity(img, txt);
            assertEquals(3, logits.length);
            assertEquals(4, logits[0].length);
        }
    }

    /**
     * An open_clip CustomTextCLIP directory (open_clip_config.json with a timm ViT and an HF BERT, weights under open_clip
     * names, BERT config beside them) loads through ClipModel.load and gives the same embeddings as the model assembled
     * from the same weights in memory.
     */
    @Test
    void biomedClipDirectoryLoads(@TempDir Path tmp) throws Exception {
        Path dir = TinyModels.writeBiomedClipModel(tmp.resolve("biomedclip"), 5);
        float[] wantImg, wantTxt;
        float[] px = new float[2 * 3 * 224 * 224];
        for (int i = 0; i < px.length; i++) px[i] = (float) Math.sin(i * 0.37);
        int[] ids = {2, 11, 25, 7, 3, 0, 0, 0, 2, 40, 3, 0, 0, 0, 0, 0};
        try (CpuBackend cpu = new CpuBackend();
             ClipModel m = ModelFamilies.biomedClip(cpu, TinyModels.BIOMED_VIT, TinyModels.BIOMED_BERT, BertTextTower.Pooling.CLS_LAST_HIDDEN_STATE,
                     BertTextTower.Projection.MLP, TinyModels.BIOMED_EMBED, new RandomWeights(5));
             Tensor p = Tensor.of(px, 2, 3, 224, 224); Tensor t = Tensor.ofInts(ids, 2, 8);
             Tensor img = m.encodeImages(p, false); Tensor txt = m.encodeTexts(t, false)) {
            wantImg = img.toFloatArray();
            wantTxt = txt.toFloatArray();
        }
        try (CpuBackend cpu = new CpuBackend(); ClipModel m = ClipModel.load(dir, cpu); Tensor p = Tensor.of(px, 2, 3, 224, 224);
             Tensor t = Tensor.ofInts(ids, 2, 8); Tensor img = m.encodeImages(p, false); Tensor txt = m.encodeTexts(t, false)) {
            assertEquals("biomedclip", m.family());
            assertEquals(TinyModels.BIOMED_CONTEXT, m.text().orElseThrow().maxLength(), "context_length caps the text input");
            assertClose(wantImg, img.toFloatArray(), 0, "BiomedCLIP directory image");
            assertClose(wantTxt, txt.toFloatArray(), 0, "BiomedCLIP directory text");
            // ids padded past the context (a tokenizer's longer default) give the same embeddings; real tokens there are refused
            int[] padded = new int[2 * 20];
            for (int r = 0; r < 2; r++) System.arraycopy(ids, r * 8, padded, r * 20, 8);
            try (Tensor longer = Tensor.ofInts(padded, 2, 20); Tensor e2 = m.encodeTexts(longer, false)) {
                // cut to the 16-token context: 8 more masked keys than the 8-wide ids, so only the summation order differs
                assertClose(wantTxt, e2.toFloatArray(), 2e-6, "BiomedCLIP text padded past the context");
            }
            padded[19] = 5;
            try (Tensor tooLong = Tensor.ofInts(padded, 2, 20)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.encodeTexts(tooLong, false));
                assertTrue(e.getMessage().contains("context " + TinyModels.BIOMED_CONTEXT), e.getMessage());
            }
        }
        // the CLI sees the same family: encode-images on the directory
        Path image = io.vlm4j.testing.DatasetFiles.png(tmp.resolve("x.png"), 40, 50, 120);
        Cli.Run run = Cli.run("encode-images", "--model", dir.toString(), "--images", image.toString(), "--out", tmp.resolve("e.npy").toString(),
                "--backend", "cpu");
        assertEquals(0, run.code(), run.err());
        try (Tensor e = Npy.readFloat32(tmp.resolve("e.npy"))) {
            assertEquals(16, e.dim(1));
        }
        // a timm name this library does not build is refused by name
        Path cfgFile = dir.resolve("open_clip_config.json");
        Files.writeString(cfgFile, Files.readString(cfgFile).replace("vit_tiny_patch16_224", "eva02_base_patch14_224"));
        try (CpuBackend cpu = new CpuBackend()) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipModel.load(dir, cpu));
            assertTrue(e.getMessage().contains("eva02_base_patch14_224"), e.getMessage());
        }
    }

    @Test
    void siglipLoadsWithSigmoidLogits() throws Exception {
        Path dir = res("/vit/siglip");
        try (CpuBackend cpu = new CpuBackend(); ClipModel m = ClipModel.load(dir, cpu);
             Tensor px = Npy.readFloat32(res("/vit/siglip_pixel_values.npy")); Tensor ids = Npy.readInt32(res("/vit/siglip_input_ids.npy"));
             Tensor img = m.encodeImages(px, false); Tensor txt = m.encodeTexts(ids, false);
             Tensor wantImg = Npy.readFloat32(res("/vit/siglip_vision_pooled.npy"));
             Tensor wantLogits = Npy.readFloat32(res("/vit/siglip_logits_per_image.npy"))) {
            assertEquals("siglip", m.family());
            assertTrue(m.sigmoidLogits());
            assertClose(wantImg.toFloatArray(), img.toFloatArray(), 1e-5, "SigLIP image vs transformers");
            float[][] logits = m.similarity(img, txt);
            float[] flat = new float[logits.length * logits[0].length];
            for (int i = 0; i < logits.length; i++) System.arraycopy(logits[i], 0, flat, i * logits[0].length, logits[0].length);
            assertClose(wantLogits.toFloatArray(), flat, 1e-5, "SigLIP logits (scale, bias) vs transformers");
        }
    }
}
