package io.vlm4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.Npy;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.io.WeightStore;
import io.vlm4j.model.bert.BertConfig;
import io.vlm4j.model.bert.BertTextTower;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ModelFamilies;
import io.vlm4j.model.clip.RandomWeights;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.model.vit.TimmVitConfig;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
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
        TimmVitConfig vit = TimmVitConfig.preset("vit_tiny_patch16_224");
        BertConfig bert = new BertConfig(60, 64, 2, 4, 96, 32, 2, 1e-12, "gelu", 0);
        RandomWeights random = new RandomWeights(5);
        Map<String, long[]> names = new LinkedHashMap<>();
        WeightSource recorder = new WeightSource() {
            @Override
            public Tensor tensor(String name, long... shape) {
                names.put(name, shape.clone());
                return random.tensor(name, shape);
            }

            @Override
            public boolean contains(String name) { return true; }

            @Override
            public String describe() { return "recorder"; }
        };
        float[] wantImg, wantTxt;
        float[] px = new float[2 * 3 * 224 * 224];
        for (int i = 0; i < px.length; i++) px[i] = (float) Math.sin(i * 0.37);
        int[] ids = {2, 11, 25, 7, 3, 0, 0, 0, 2, 40, 3, 0, 0, 0, 0, 0};
        try (CpuBackend cpu = new CpuBackend();
             ClipModel m = ModelFamilies.biomedClip(cpu, vit, bert, BertTextTower.Pooling.CLS_LAST_HIDDEN_STATE, BertTextTower.Projection.MLP, 16, recorder);
             Tensor p = Tensor.of(px, 2, 3, 224, 224); Tensor t = Tensor.ofInts(ids, 2, 8);
             Tensor img = m.encodeImages(p, false); Tensor txt = m.encodeTexts(t, false)) {
            wantImg = img.toFloatArray();
            wantTxt = txt.toFloatArray();
        }
        Path dir = Files.createDirectories(tmp.resolve("biomedclip"));
        try (TensorScope scope = new TensorScope()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (Map.Entry<String, long[]> e : names.entrySet()) w.add(e.getKey(), scope.track(random.tensor(e.getKey(), e.getValue())));
            w.write(dir.resolve("model.safetensors"));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode(), cfg = root.putObject("model_cfg");
        cfg.put("embed_dim", 16);
        cfg.putObject("vision_cfg").put("timm_model_name", "vit_tiny_patch16_224").put("timm_pool", "").put("timm_proj", "linear").put("image_size", 224);
        cfg.putObject("text_cfg").put("hf_model_name", "tiny-bert").put("hf_proj_type", "mlp").put("hf_pooler_type", "cls_last_hidden_state_pooler")
                .put("context_length", 8);
        json.writeValue(dir.resolve("open_clip_config.json").toFile(), root);
        ObjectNode bc = json.createObjectNode().put("model_type", "bert").put("vocab_size", 60).put("hidden_size", 64).put("num_hidden_layers", 2)
                .put("num_attention_heads", 4).put("intermediate_size", 96).put("max_position_embeddings", 32).put("type_vocab_size", 2)
                .put("layer_norm_eps", 1e-12).put("hidden_act", "gelu").put("pad_token_id", 0);
        json.writeValue(dir.resolve("text_config.json").toFile(), bc);
        try (CpuBackend cpu = new CpuBackend(); ClipModel m = ClipModel.load(dir, cpu); Tensor p = Tensor.of(px, 2, 3, 224, 224);
             Tensor t = Tensor.ofInts(ids, 2, 8); Tensor img = m.encodeImages(p, false); Tensor txt = m.encodeTexts(t, false)) {
            assertEquals("biomedclip", m.family());
            assertEquals(8, m.text().orElseThrow().maxLength(), "context_length caps the text input");
            assertClose(wantImg, img.toFloatArray(), 0, "BiomedCLIP directory image");
            assertClose(wantTxt, txt.toFloatArray(), 0, "BiomedCLIP directory text");
            // ids padded past the context (a tokenizer's longer default) give the same embeddings; real tokens there are refused
            int[] padded = new int[2 * 12];
            for (int r = 0; r < 2; r++) System.arraycopy(ids, r * 8, padded, r * 12, 8);
            try (Tensor longer = Tensor.ofInts(padded, 2, 12); Tensor e2 = m.encodeTexts(longer, false)) {
                assertClose(wantTxt, e2.toFloatArray(), 0, "BiomedCLIP text padded past the context");
            }
            padded[11] = 5;
            try (Tensor tooLong = Tensor.ofInts(padded, 2, 12)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.encodeTexts(tooLong, false));
                assertTrue(e.getMessage().contains("context 8"), e.getMessage());
            }
        }
        // the CLI sees the same family: encode-images on the directory
        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"crop_size\": 224, \"size\": 224}");
        Path image = io.vlm4j.testing.DatasetFiles.png(tmp.resolve("x.png"), 40, 50, 120);
        Cli.Run run = Cli.run("encode-images", "--model", dir.toString(), "--images", image.toString(), "--out", tmp.resolve("e.npy").toString(),
                "--backend", "cpu");
        assertEquals(0, run.code(), run.err());
        try (Tensor e = Npy.readFloat32(tmp.resolve("e.npy"))) {
            assertEquals(16, e.dim(1));
        }
        // a timm name this library does not build is refused by name
        cfg.withObject("/vision_cfg").put("timm_model_name", "eva02_base_patch14_224");
        json.writeValue(dir.resolve("open_clip_config.json").toFile(), root);
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
