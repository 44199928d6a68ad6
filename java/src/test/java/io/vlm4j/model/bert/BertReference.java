package io.vlm4j.model.bert;

import io.vlm4j.backend.Activation;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * A plain float64 BERT text tower written straight from spec 04 §4 (HF {@code BertModel} with the extended attention
 * mask {@code (1 − m)·finfo(float32).min}, then open_clip's pooler and projection), independent of the backends: the
 * oracle of {@link BertTextTowerTest}. Loops only, no tensors; every weight is read through the same
 * {@link WeightSource} the tower loads.
 */
final class BertReference {
    /** torch.finfo(torch.float32).min, what HF adds to the scores of padded keys. */
    static final double FINFO_MIN = -3.4028234663852886e38;

    private final BertConfig c;
    private final WeightSource w;
    private final String prefix, projPrefix;
    private final Map<String, double[]> cache = new TreeMap<>();
    private final Map<String, double[]> deltas;

    BertReference(BertConfig config, WeightSource weights, String prefix, String projPrefix) {
        this(config, weights, prefix, projPrefix, Map.of());
    }

    /**
     * With LoRA: {@code deltas} maps a weight's name ({@code <module path>.weight}) to s·B·A [out·in], added to it in
     * float64 (a merged adapter without the float32 rounding of a merged weight).
     */
    BertReference(BertConfig config, WeightSource weights, String prefix, String projPrefix, Map<String, double[]> deltas) {
        this.c = config;
        this.w = weights;
        this.prefix = prefix;
        this.projPrefix = projPrefix;
        this.deltas = deltas;
    }

    private double[] p(String name, long... shape) throws IOException {
        double[] v = cache.get(name);
        if (v != null) return v;
        try (Tensor t = w.tensor(name, shape)) {
            float[] f = t.toFloatArray();
            v = new double[f.length];
            for (int i = 0; i < f.length; i++) v[i] = f[i];
        }
        double[] delta = deltas.get(name);
        if (delta != null) for (int i = 0; i < v.length; i++) v[i] += delta[i];
        cache.put(name, v);
        return v;
    }

    /** ids [B][L], mask [B][L] of 0/1 → [B][E]. */
    double[][] forward(int[][] ids, int[][] mask, BertTextTower.Pooling pooling, BertTextTower.Projection projection,
                       int e) throws IOException {
        int b = ids.length;
        double[][] out = new double[b][];
        for (int r = 0; r < b; r++) out[r] = forwardRow(ids[r], mask[r], pooling, projection, e);
        return out;
    }

    private double[] forwardRow(int[] ids, int[] mask, BertTextTower.Pooling pooling, BertTextTower.Projection projection,
                                int e) throws IOException {
        int len = ids.length, d = c.hidden(), f = c.intermediate(), heads = c.heads(), dh = d / heads;
        String emb = prefix + "embeddings.";
        double[] word = p(emb + "word_embeddings.weight", c.vocab(), d);
        double[] pos = p(emb + "position_embeddings.weight", c.maxPositions(), d);
        double[] type = p(emb + "token_type_embeddings.weight", c.typeVocab(), d);
        double[][] x = new double[len][d];
        for (int l = 0; l < len; l++) {
            for (int k = 0; k < d; k++) x[l][k] = word[ids[l] * d + k] + type[k] + pos[l * d + k];
            layerNorm(x[l], p(emb + "LayerNorm.weight", d), p(emb + "LayerNorm.bias", d));
        }
        Activation act = c.activation();
        for (int i = 0; i < c.layers(); i++) {
            String lp = prefix + "encoder.layer." + i + ".";
            double[][] q = linear(x, p(lp + "attention.self.query.weight", d, d), p(lp + "attention.self.query.bias", d), d);
            double[][] k = linear(x, p(lp + "attention.self.key.weight", d, d), p(lp + "attention.self.key.bias", d), d);
            double[][] v = linear(x, p(lp + "attention.self.value.weight", d, d), p(lp + "attention.self.value.bias", d), d);
            double[][] ctx = new double[len][d];
            for (int h = 0; h < heads; h++) {
                for (int qi = 0; qi < len; qi++) {
                    double[] s = new double[len];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int kj = 0; kj < len; kj++) {
                        double dot = 0;
                        for (int t = 0; t < dh; t++) dot += q[qi][h * dh + t] * k[kj][h * dh + t];
                        s[kj] = dot / Math.sqrt(dh) + (1 - mask[kj]) * FINFO_MIN;
                        max = Math.max(max, s[kj]);
                    }
                    double sum = 0;
                    for (int kj = 0; kj < len; kj++) sum += s[kj] = Math.exp(s[kj] - max);
                    for (int kj = 0; kj < len; kj++) {
                        for (int t = 0; t < dh; t++) ctx[qi][h * dh + t] += s[kj] / sum * v[kj][h * dh + t];
                    }
                }
            }
            double[][] a = linear(ctx, p(lp + "attention.output.dense.weight", d, d), p(lp + "attention.output.dense.bias", d), d);
            for (int l = 0; l < len; l++) {
                for (int t = 0; t < d; t++) a[l][t] += x[l][t];
                layerNorm(a[l], p(lp + "attention.output.LayerNorm.weight", d), p(lp + "attention.output.LayerNorm.bias", d));
            }
            double[][] g = linear(a, p(lp + "intermediate.dense.weight", f, d), p(lp + "intermediate.dense.bias", f), f);
            for (double[] row : g) for (int t = 0; t < f; t++) row[t] = act.apply(row[t]);
            double[][] y = linear(g, p(lp + "output.dense.weight", d, f), p(lp + "output.dense.bias", d), d);
            for (int l = 0; l < len; l++) {
                for (int t = 0; t < d; t++) y[l][t] += a[l][t];
                layerNorm(y[l], p(lp + "output.LayerNorm.weight", d), p(lp + "output.LayerNorm.bias", d));
            }
            x = y;
        }
        double[] pooled = new double[d];
        switch (pooling) {
            case CLS_LAST_HIDDEN_STATE -> pooled = x[0].clone();
            case MEAN -> {
                int kept = 0;
                for (int l = 0; l < len; l++) {
                    kept += mask[l];
                    for (int t = 0; t < d; t++) pooled[t] += mask[l] * x[l][t];
                }
                for (int t = 0; t < d; t++) pooled[t] /= kept;
            }
            case CLS_POOLER -> {
                pooled = linear(new double[][] {x[0]}, p(prefix + "pooler.dense.weight", d, d), p(prefix + "pooler.dense.bias", d), d)[0];
                for (int t = 0; t < d; t++) pooled[t] = Math.tanh(pooled[t]);
            }
        }
        return switch (projection) {
            case NONE -> pooled;
            case LINEAR -> linear(new double[][] {pooled}, p(projPrefix + "weight", e, d), null, e)[0];
            case MLP -> {
                int hid = (d + e) / 2;
                double[] h = linear(new double[][] {pooled}, p(projPrefix + "0.weight", hid, d), null, hid)[0];
                for (int t = 0; t < hid; t++) h[t] = Activation.GELU.apply(h[t]);
                yield linear(new double[][] {h}, p(projPrefix + "2.weight", e, hid), null, e)[0];
            }
        };
    }

    /** x [R][K] · Wᵀ (W [N, K] row-major) + b. */
    private static double[][] linear(double[][] x, double[] weight, double[] bias, int n) {
        int k = x[0].length;
        double[][] y = new double[x.length][n];
        for (int r = 0; r < x.length; r++) {
            for (int o = 0; o < n; o++) {
                double s = bias == null ? 0 : bias[o];
                for (int i = 0; i < k; i++) s += x[r][i] * weight[o * k + i];
                y[r][o] = s;
            }
        }
        return y;
    }

    /** In place, biased variance, eps inside the square root. */
    private void layerNorm(double[] x, double[] gamma, double[] beta) {
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= x.length;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= x.length;
        double inv = 1 / Math.sqrt(var + c.layerNormEps());
        for (int i = 0; i < x.length; i++) x[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
    }
}
