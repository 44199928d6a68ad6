package io.vlm4j.model.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Golden;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One set of random weights written as an HF CLIP directory and in open_clip's layout (fused in_proj, [D, E]
 * projections, open_clip names, open_clip_config.json) must give the same embeddings: the same floats reach the same
 * kernels, so the outputs are compared bit for bit. Covers open_clip_model.safetensors and model.safetensors, the
 * CustomTextCLIP {@code text.} prefix, leading-1 shapes, a single weights file as the path, and an HF config.json
 * beside open_clip-named weights.
 */
class OpenClipRoundTripTest {
    @TempDir
    Path tmp;

    @Test
    void openClipDirectoryGivesTheHfEmbeddings() throws Exception {
        OpenClipTestModels m = new OpenClipTestModels(OpenClipTestModels.Arch.small(), 11);
        Path hf = m.writeHf(tmp.resolve("hf"));
        Path oc = m.writeOpenClip(tmp.resolve("oc"), OpenClipLayout.WEIGHTS_FILE, "", UnaryOperator.identity());
        assertSameEmbeddings(m, hf, oc, true);
    }

    /** Exact GELU, other head widths and MLP ratios, eps from norm_kwargs, the text. prefix, [1,1,D] and [1] shapes. */
    @Test
    void customTextPrefixAndOtherShapesGiveTheHfEmbeddings() throws Exception {
        OpenClipTestModels m = new OpenClipTestModels(OpenClipTestModels.Arch.otherShapes(), 12);
        Path hf = m.writeHf(tmp.resolve("hf"));
        Path oc = m.writeOpenClip(tmp.resolve("oc"), "model.safetensors", "text.", w -> {
            Map<String, OpenClipTestModels.Entry> out = new LinkedHashMap<>(w);
            OpenClipTestModels.Entry cls = out.get("visual.class_embedding");
            out.put("visual.class_embedding", new OpenClipTestModels.Entry(cls.values(), new long[] {1, 1, cls.shape()[0]}));
            out.put("logit_scale", new OpenClipTestModels.Entry(out.get("logit_scale").values(), new long[] {1}));
            out.put("text.attn_mask", new OpenClipTestModels.Entry(new float[4], new long[] {2, 2}));  // a buffer: ignored
            return out;
        });
        assertSameEmbeddings(m, hf, oc, true);
    }

    @Test
    void configFromOpenClipMatchesTheHfConfig() throws Exception {
        for (OpenClipTestModels.Arch arch : new OpenClipTestModels.Arch[] {OpenClipTestModels.Arch.small(), OpenClipTestModels.Arch.otherShapes()}) {
            OpenClipTestModels m = new OpenClipTestModels(arch, 1);
            Path oc = m.writeOpenClip(tmp.resolve("cfg" + arch.embedDim()), OpenClipLayout.WEIGHTS_FILE, "", UnaryOperator.identity());
            ClipConfig got = OpenClipLayout.loadConfig(oc), want = arch.hfConfig();
            assertEquals(want.vision(), got.vision());
            ClipTextConfig t = got.text().orElseThrow(), w = want.text().orElseThrow();
            assertEquals(new ClipTextConfig(w.vocabSize(), w.hiddenSize(), w.intermediateSize(), w.numHiddenLayers(),
                    w.numAttentionHeads(), w.maxPositionEmbeddings(), w.hiddenAct(), w.layerNormEps(), w.projectionDim(),
                    0, t.bosTokenId(), 2), t, "text config (pad 0 as open_clip, eos 2 = argmax pooling)");
            assertEquals(arch.embedDim(), got.projectionDim());
            assertEquals(Math.log(1 / 0.07), got.logitScaleInitValue(), 1e-12);
        }
    }

    /** The weights file itself as the path, its directory holding open_clip_config.json. */
    @Test
    void singleWeightsFileBesideOpenClipConfigLoads() throws Exception {
        OpenClipTestModels m = new OpenClipTestModels(OpenClipTestModels.Arch.small(), 13);
        Path hf = m.writeHf(tmp.resolve("hf"));
        Path oc = m.writeOpenClip(tmp.resolve("oc"), OpenClipLayout.WEIGHTS_FILE, "", UnaryOperator.identity());
        assertSameEmbeddings(m, hf, oc.resolve(OpenClipLayout.WEIGHTS_FILE), true);
    }

    /** An HF config.json beside open_clip-named weights (e.g. only open_clip_model.safetensors downloaded). */
    @Test
    void hfConfigWithOpenClipNamedWeightsLoads() throws Exception {
        OpenClipTestModels m = new OpenClipTestModels(OpenClipTestModels.Arch.small(), 14);
        Path hf = m.writeHf(tmp.resolve("hf"));
        Path mixed = Files.createDirectories(tmp.resolve("mixed"));
        Files.copy(hf.resolve("config.json"), mixed.resolve("config.json"));
        m.writeOpenClipWeights(mixed.resolve(OpenClipLayout.WEIGHTS_FILE), "", UnaryOperator.identity());
        assertSameEmbeddings(m, hf, mixed, false);  // config.json decides pooling: the first eos
    }

    /** open_clip_config.json and open_clip_model.safetensors win over a model.safetensors with other weights. */
    @Test
    void openClipWeightsFileIsPreferredInAnOpenClipDirectory() throws Exception {
        OpenClipTestModels m = new OpenClipTestModels(OpenClipTestModels.Arch.small(), 15);
        Path hf = m.writeHf(tmp.resolve("hf"));
        Path oc = m.writeOpenClip(tmp.resolve("oc"), OpenClipLayout.WEIGHTS_FILE, "", UnaryOperator.identity());
        Files.writeString(oc.resolve("model.safetensors"), "not read");
        assertSameEmbeddings(m, hf, oc, true);
    }

    private static void assertSameEmbeddings(OpenClipTestModels m, Path hf, Path oc, boolean openClipConfig) throws Exception {
        try (CpuBackend cpu = new CpuBackend();
             ClipModel a = ClipModel.load(hf, cpu); ClipModel b = ClipModel.load(oc, cpu);
             Tensor pixels = m.pixels(3, 5); Tensor ids = m.ids(4, 6);
             Tensor ia = a.encodeImages(pixels, false); Tensor ib = b.encodeImages(pixels, false);
             Tensor ta = a.encodeTexts(ids, false); Tensor tb = b.encodeTexts(ids, false)) {
            if (openClipConfig) {
                assertTrue(b.clipText().orElseThrow().poolingEosId().isEmpty(), "open_clip text pools at argmax(ids)");
            }
            double img = Golden.maxAbsDiff(ia.toFloatArray(), ib.toFloatArray());
            double txt = Golden.maxAbsDiff(ta.toFloatArray(), tb.toFloatArray());
            System.out.printf("open_clip vs HF layout (%s): image max |diff| %.3g, text %.3g, |image| max %.3g%n",
                    oc.getFileName(), img, txt, maxAbs(ia.toFloatArray()));
            assertEquals(0.0, img, "image embeddings differ between the layouts");
            assertEquals(0.0, txt, "text embeddings differ between the layouts");
            assertEquals(a.logitScale(), b.logitScale());
            assertTrue(maxAbs(ia.toFloatArray()) > 0.1 && maxAbs(ta.toFloatArray()) > 0.1, "embeddings are not trivial");
        }
    }

    private static double maxAbs(float[] v) {
        double m = 0;
        for (float x : v) m = Math.max(m, Math.abs(x));
        return m;
    }
}
