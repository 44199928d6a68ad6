package io.vlm4j.model.clip;

import io.vlm4j.tensor.Tensor;
import java.util.SplittableRandom;

/**
 * Seeded random parameters with HF CLIP's initialisation scales (spec 01 §3.6): LayerNorm γ = 1, β = 0, biases 0,
 * weights N(0, σ) with σ ≈ 1/√fan-in. Used by {@code bench}, which needs a realistic model without a download.
 * Values depend only on the seed and the name, so two runs build the same model.
 */
public final class RandomWeights implements WeightSource {
    private final long seed;

    public RandomWeights(long seed) {
        this.seed = seed;
    }

    @Override
    public Tensor tensor(String name, long... shape) {
        int n = Math.toIntExact(io.vlm4j.tensor.Shapes.numel(shape));
        float[] v = new float[n];
        if (isNorm(name)) {
            if (name.endsWith(".weight")) java.util.Arrays.fill(v, 1f);
        } else if (!name.endsWith(".bias")) {
            double std = name.equals("logit_scale") ? 0 : stdFor(name, shape);
            SplittableRandom r = new SplittableRandom(seed ^ (name.hashCode() * 0x9E3779B97F4A7C15L));
            for (int i = 0; i < n; i++) v[i] = (float) (gaussian(r) * std);
            if (name.equals("logit_scale")) v[0] = (float) Math.log(1 / 0.07);
        }
        return Tensor.of(v, shape);
    }

    /** LayerNorm parameters under HF CLIP, timm (norm, norm1, norm_pre, fc_norm) and BERT (LayerNorm) names. */
    static boolean isNorm(String name) {
        String module = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name;
        String last = module.substring(module.lastIndexOf('.') + 1);
        return name.contains("layer_norm") || name.contains("layrnorm") || name.contains("layernorm") || last.equals("LayerNorm")
                || last.matches("(ln_\\w+|norm\\d?|norm_pre|fc_norm|ln_final|ln_pre|ln_post|layernorm)");
    }

    private static double stdFor(String name, long[] shape) {
        if (name.contains("embedding")) return 0.02;
        long fanIn = shape.length >= 2 ? io.vlm4j.tensor.Shapes.numel(shape) / shape[0] : shape[0];
        return 1.0 / Math.sqrt(Math.max(1, fanIn));
    }

    private static double gaussian(SplittableRandom r) {  // Box–Muller; one value per call keeps it stateless
        double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    @Override
    public boolean contains(String name) { return true; }

    @Override
    public String describe() { return "random weights (seed " + seed + ")"; }
}
