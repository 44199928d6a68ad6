package io.vlm4j.model.vit;

import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;

/**
 * SigLIP's pairwise sigmoid scores (HF {@code SiglipModel.forward} in transformers/models/siglip/modeling_siglip.py;
 * spec 06 §6.2, spec 07 §2): with î = img/‖img‖ and t̂ = txt/‖txt‖,
 * <pre>
 *   z[i][j] = exp(logit_scale)·⟨î_i, t̂_j⟩ + logit_bias        (logits_per_image; logits_per_text is its transpose)
 *   p[i][j] = σ(z[i][j]) = 1 / (1 + e^(−z))                 (independent per pair: rows do not sum to 1)
 * </pre>
 * {@code logitScale} is the stored log value (trained SigLIP: about ln 117; initialized at ln 10) and {@code logitBias} the
 * stored bias (initialized at −10). Computed in double precision. HF divides by the plain norm, so a zero embedding has
 * no direction; it is refused here instead of giving NaN.
 */
public record SiglipLogits(double logitScale, double logitBias) {

    public SiglipLogits {
        if (!Double.isFinite(logitScale) || !Double.isFinite(logitBias)) {
            throw new IllegalArgumentException("siglip logits: logit_scale " + logitScale + " and logit_bias " + logitBias
                    + " must be finite");
        }
    }

    /** Reads {@code logit_scale} [1] and {@code logit_bias} [1] (the keys of a {@code SiglipModel} checkpoint). */
    public static SiglipLogits load(WeightSource weights) throws IOException {
        try (Tensor scale = weights.tensor("logit_scale", 1); Tensor bias = weights.tensor("logit_bias", 1)) {
            return new SiglipLogits(scale.toFloatArray()[0], bias.toFloatArray()[0]);
        }
    }

    /** z = exp(logit_scale)·cos(image_i, text_j) + logit_bias: [images][texts] (HF logits_per_image). */
    public float[][] logits(float[][] imageEmbeds, float[][] textEmbeds) {
        double[][] img = normalized("image", imageEmbeds), txt = normalized("text", textEmbeds);
        if (img.length > 0 && txt.length > 0 && img[0].length != txt[0].length) {
            throw new IllegalArgumentException("siglip logits: image embeddings have width " + img[0].length
                    + " but text embeddings " + txt[0].length);
        }
        double scale = Math.exp(logitScale);
        float[][] z = new float[img.length][txt.length];
        for (int i = 0; i < img.length; i++) {
            for (int j = 0; j < txt.length; j++) {
                double dot = 0;
                for (int k = 0; k < img[i].length; k++) dot += img[i][k] * txt[j][k];
                z[i][j] = (float) (scale * dot + logitBias);
            }
        }
        return z;
    }

    /** σ(z) of {@link #logits}: the probability that each (image, text) pair matches, [images][texts]. */
    public float[][] probabilities(float[][] imageEmbeds, float[][] textEmbeds) {
        float[][] z = logits(imageEmbeds, textEmbeds);
        for (float[] row : z) for (int j = 0; j < row.length; j++) row[j] = (float) sigmoid(row[j]);
        return z;
    }

    /** The logistic function, written so that neither branch overflows. */
    public static double sigmoid(double z) {
        if (z >= 0) return 1.0 / (1.0 + Math.exp(-z));
        double e = Math.exp(z);
        return e / (1.0 + e);
    }

    private static double[][] normalized(String what, float[][] rows) {
        double[][] out = new double[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].length != rows[0].length) {
                throw new IllegalArgumentException("siglip logits: " + what + " embedding " + i + " has width " + rows[i].length
                        + ", embedding 0 has " + rows[0].length);
            }
            double sq = 0;
            for (float v : rows[i]) sq += (double) v * v;
            double norm = Math.sqrt(sq);
            if (!(norm > 0) || !Double.isFinite(norm)) {
                throw new IllegalArgumentException("siglip logits: " + what + " embedding " + i + " has norm " + norm
                        + "; it cannot be normalized");
            }
            out[i] = new double[rows[i].length];
            for (int k = 0; k < rows[i].length; k++) out[i][k] = rows[i][k] / norm;
        }
        return out;
    }
}
