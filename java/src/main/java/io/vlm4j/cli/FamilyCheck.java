package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.lora.LoraConfig;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.ImageTower;
import io.vlm4j.model.Tape;
import io.vlm4j.model.TextTower;
import io.vlm4j.model.bert.BertConfig;
import io.vlm4j.model.bert.BertTextTower;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ModelFamilies;
import io.vlm4j.model.clip.RandomWeights;
import io.vlm4j.model.vit.SiglipConfig;
import io.vlm4j.model.vit.SiglipTextConfig;
import io.vlm4j.model.vit.SiglipVisionConfig;
import io.vlm4j.model.vit.TimmVitConfig;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.train.Parameter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The other families in {@code check}: small random BiomedCLIP-style models (timm ViT with class-token pooling, and one
 * with average pooling, norm_pre and no class token; BERT with CLS pooling and the MLP projection) and a SigLIP model
 * (attention-pooling head, last-token text pooling), each run on the backend under test and on the CPU backend in F32:
 * the image and text embeddings, and the LoRA gradients of one training forward/backward of both towers with adapters on
 * every Linear. What the GPU machine checks for the non-CLIP towers; CI runs it with the reference backend.
 */
final class FamilyCheck {
    private FamilyCheck() {}

    private static final int N = 5, LEN = 16, EMBED = 32;

    private interface Build {
        ClipModel build(Backend backend) throws IOException;
    }

    private record Family(String name, Build build, int[] ids) {}

    /** Runs every family; returns the number of failed comparisons. */
    static int run(Backend backend, boolean exact) throws IOException {
        BertConfig bert = new BertConfig(500, 64, 2, 2, 128, 32, 2, 1e-12, "gelu", 0);
        TimmVitConfig token = new TimmVitConfig(48, 8, 3, 128, 2, 2, 256, 1e-6, "gelu", true, false, true, "token", true, "linear", EMBED);
        TimmVitConfig avg = new TimmVitConfig(40, 8, 3, 64, 2, 2, 128, 1e-6, "gelu_pytorch_tanh", false, true, true, "avg", false, "linear",
                EMBED);
        SiglipConfig siglip = new SiglipConfig(Optional.of(new SiglipTextConfig(500, 64, 128, 2, 2, LEN, "gelu_pytorch_tanh", 1e-6, 64, 1)),
                Optional.of(new SiglipVisionConfig(64, 128, 2, 2, 3, 40, 8, "gelu_pytorch_tanh", 1e-6)));
        List<Family> families = List.of(
                new Family("biomedclip-token", b -> ModelFamilies.biomedClip(b, token, bert, BertTextTower.Pooling.CLS_LAST_HIDDEN_STATE,
                        BertTextTower.Projection.MLP, EMBED, new RandomWeights(21)), bertIds()),
                new Family("timm-avg+bert-mean", b -> ModelFamilies.biomedClip(b, avg, bert, BertTextTower.Pooling.MEAN,
                        BertTextTower.Projection.LINEAR, EMBED, new RandomWeights(22)), bertIds()),
                new Family("siglip", b -> ModelFamilies.siglip(b, siglip, new RandomWeights(23)), siglipIds()));
        int failures = 0;
        for (Family f : families) failures += check(backend, exact, f);
        return failures;
    }

    private static int check(Backend backend, boolean exact, Family f) throws IOException {
        int failures = 0;
        try (Backend cpu = new CpuBackend(); ClipModel want = f.build().build(cpu); ClipModel got = f.build().build(backend)) {
            int s = want.vision().orElseThrow().imageSize();
            SplittableRandom r = new SplittableRandom(5);
            float[] px = new float[N * 3 * s * s];
            for (int i = 0; i < px.length; i++) px[i] = (float) (r.nextDouble() * 4 - 2);
            try (Tensor pixels = Tensor.of(px, N, 3, s, s); Tensor ids = Tensor.ofInts(f.ids(), N, LEN);
                 Tensor wi = want.encodeImages(pixels, false); Tensor wt = want.encodeTexts(ids, false);
                 Tensor gi = got.encodeImages(pixels, false); Tensor gt = got.encodeTexts(ids, false)) {
                failures += report(f.name() + " image", exact, CheckCommand.Agreement.of(wi, gi));
                failures += report(f.name() + " text", exact, CheckCommand.Agreement.of(wt, gt));
                if (backend.weightType() == backend.computeType()) {  // training needs the weights in the compute type
                    float[] g0 = loraGradients(want, pixels, ids), g1 = loraGradients(got, pixels, ids);
                    try (Tensor a = Tensor.of(g0, 1, g0.length); Tensor b = Tensor.of(g1, 1, g1.length)) {
                        failures += report(f.name() + " LoRA gradients", exact, CheckCommand.Agreement.of(a, b));
                    }
                }
            }
        }
        return failures;
    }

    private static int report(String what, boolean exact, CheckCommand.Agreement a) {
        boolean ok = exact ? a.relative() <= 1e-4 : a.relative() <= 5e-2 && a.minCosine() >= 0.99;
        System.out.printf(Locale.ROOT, "  family %-34s vs cpu fp32: %.2e relative, min cosine %.6f %s%n", what, a.relative(), a.minCosine(),
                ok ? "ok" : "FAIL");
        return ok ? 0 : 1;
    }

    /**
     * Every adapter gradient (both towers, adapters with random B on every Linear) of a fixed linear read-out of the
     * image and text embeddings after one training forward/backward, flattened in parameter order.
     */
    private static float[] loraGradients(ClipModel model, Tensor pixels, Tensor ids) {
        Set<String> names = new LinkedHashSet<>();
        for (LoraWeights.Linear l : model.linears()) names.add(l.path().substring(l.path().lastIndexOf('.') + 1));
        try (LoraWeights w = LoraWeights.init(LoraConfig.of(new ArrayList<>(names), 4, 8, false, 0), model.linears(), 9)) {
            SplittableRandom r = new SplittableRandom(10);
            for (LoraWeights.Module m : w.modules()) {
                float[] b = new float[(int) m.b().numel()];
                for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextGaussian() * 0.1);
                m.b().copyFrom(b);
            }
            LoraState state = model.attachLora(w);
            try {
                Backend backend = model.backend();
                ImageTower vision = model.vision().orElseThrow();
                TextTower text = model.text().orElseThrow();
                try (TensorScope s = new TensorScope(backend.device())) {
                    Tensor ie = s.f32(N, vision.projectionDim()), te = s.f32(N, text.projectionDim());
                    try (Tape vt = vision.forwardTrain(pixels, ie, false); Tape tt = text.forwardTrain(ids, null, te, true)) {
                        vision.backward(vt, readout(s, N, vision.projectionDim()));
                        text.backward(tt, readout(s, N, text.projectionDim()));
                    }
                }
                List<Parameter> ps = state.parameters();
                int total = 0;
                for (Parameter p : ps) total += (int) p.grad().numel();
                float[] all = new float[total];
                int k = 0;
                for (Parameter p : ps) {  // the adapters' gradients are F32 on every backend
                    float[] v = p.grad().toFloatArray();
                    System.arraycopy(v, 0, all, k, v.length);
                    k += v.length;
                }
                return all;
            } finally {
                model.detachLora();
            }
        }
    }

    /** dOut F32 [n, e] on the scope's device: sin(0.7·i + 0.3). */
    private static Tensor readout(TensorScope s, int n, int e) {
        float[] g = new float[n * e];
        for (int i = 0; i < g.length; i++) g[i] = (float) Math.sin(0.7 * i + 0.3);
        Tensor t = s.f32(n, e);
        try (Tensor host = Tensor.of(g, n, e)) {
            t.copyFrom(host);
        }
        return t;
    }

    /** BERT-style ids [N, LEN]: [CLS] = 2, words, [SEP] = 3, then padding 0 (lengths 3..LEN). */
    private static int[] bertIds() {
        SplittableRandom r = new SplittableRandom(3);
        int[] ids = new int[N * LEN];
        for (int b = 0; b < N; b++) {
            int len = 3 + r.nextInt(LEN - 2);
            ids[b * LEN] = 2;
            for (int i = 1; i < len - 1; i++) ids[b * LEN + i] = 5 + r.nextInt(490);
            ids[b * LEN + len - 1] = 3;
        }
        return ids;
    }

    /** SigLIP-style ids [N, LEN]: pieces, then {@code </s>} = 1 padding to the end (the pooled last position). */
    private static int[] siglipIds() {
        SplittableRandom r = new SplittableRandom(4);
        int[] ids = new int[N * LEN];
        java.util.Arrays.fill(ids, 1);
        for (int b = 0; b < N; b++) {
            int len = 1 + r.nextInt(LEN - 1);
            for (int i = 0; i < len; i++) ids[b * LEN + i] = 2 + r.nextInt(490);
        }
        return ids;
    }
}
