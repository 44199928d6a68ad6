package io.vlm4j.model.clip;

import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * Zero-shot classification head built from class names and prompt templates (spec 07 §3, open_clip
 * {@code zero_shot_classifier.build_zero_shot_classifier}): each template filled with each label is encoded and
 * L2-normalized; a class weight is the renormalized mean of its template embeddings (prompt ensembling). An image's
 * logits are {@code scale · normalize(image) · W}, probabilities their softmax over classes.
 */
public final class ZeroShotClassifier {
    /** The scale open_clip's evaluation and the OpenAI notebook use (not exp(logit_scale)); spec 08 item 27. */
    public static final float OPEN_CLIP_SCALE = 100f;

    private final List<String> labels;
    private final float[][] weights;  // [C][E], unit rows
    private final float scale;

    private ZeroShotClassifier(List<String> labels, float[][] weights, float scale) {
        this.labels = List.copyOf(labels);
        this.weights = weights;
        this.scale = scale;
    }

    /**
     * @param templates prompts with one {@code {}} where the label goes (e.g. {@code "a photo of a {}."})
     * @param scale     logit scale; {@link #OPEN_CLIP_SCALE} for the usual evaluation, or {@code exp(clip.logitScale())}
     */
    public static ZeroShotClassifier build(ClipModel clip, Tokenizer tokenizer, List<String> labels, List<String> templates,
                                           int context, float scale) {
        if (labels.isEmpty()) throw new IllegalArgumentException("zero-shot: no labels");
        if (templates.isEmpty()) throw new IllegalArgumentException("zero-shot: no templates");
        for (String t : templates) {
            if (!t.contains("{}")) throw new IllegalArgumentException("zero-shot: template has no {} for the label: \"" + t + "\"");
        }
        for (String l : labels) {
            if (l.isBlank()) throw new IllegalArgumentException("zero-shot: empty label in " + labels);
        }
        if (!(scale > 0) || !Float.isFinite(scale)) throw new IllegalArgumentException("zero-shot: scale must be > 0, got " + scale);
        List<String> prompts = new ArrayList<>(labels.size() * templates.size());
        for (String label : labels) {
            for (String t : templates) prompts.add(t.replace("{}", label));
        }
        int k = templates.size();
        float[][] w = new float[labels.size()][];
        try (Tensor ids = tokenizer.encodeBatch(prompts, context); Tensor emb = clip.encodeTexts(ids, true)) {
            int e = (int) emb.dim(1);
            float[] flat = emb.toFloatArray();  // [C·K, E], unit rows
            for (int c = 0; c < labels.size(); c++) {
                double[] mean = new double[e];
                for (int j = 0; j < k; j++) {
                    int row = (c * k + j) * e;
                    for (int i = 0; i < e; i++) mean[i] += flat[row + i];
                }
                w[c] = normalized(mean);
            }
        }
        return new ZeroShotClassifier(labels, w, scale);
    }

    public List<String> labels() { return labels; }

    public float scale() { return scale; }

    /** Logits [N][C] of image embeddings F32 [N, E] (normalized here; they need not be). */
    public float[][] logits(Tensor imageEmbeds) {
        OpChecks.requireDType("zero-shot", "imageEmbeds", imageEmbeds, DType.F32);
        OpChecks.requireRank("zero-shot", "imageEmbeds", imageEmbeds, 2);
        int n = (int) imageEmbeds.dim(0), e = (int) imageEmbeds.dim(1);
        if (e != weights[0].length) {
            throw new IllegalArgumentException("zero-shot: image embeddings have " + e + " dims, the classifier " + weights[0].length);
        }
        float[] flat = imageEmbeds.toFloatArray();
        float[][] out = new float[n][weights.length];
        for (int r = 0; r < n; r++) {
            double[] img = new double[e];
            for (int i = 0; i < e; i++) img[i] = flat[r * e + i];
            float[] u = normalized(img);
            for (int c = 0; c < weights.length; c++) {
                double dot = 0;
                for (int i = 0; i < e; i++) dot += (double) u[i] * weights[c][i];
                out[r][c] = (float) (scale * dot);
            }
        }
        return out;
    }

    /** Softmax over classes of {@link #logits(Tensor)}, [N][C]. */
    public float[][] probabilities(Tensor imageEmbeds) {
        float[][] logits = logits(imageEmbeds);
        for (float[] row : logits) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float v : row) max = Math.max(max, v);
            double[] ex = new double[row.length];
            for (int c = 0; c < row.length; c++) sum += ex[c] = Math.exp(row[c] - max);
            for (int c = 0; c < row.length; c++) row[c] = (float) (ex[c] / sum);
        }
        return logits;
    }

    private static float[] normalized(double[] v) {
        double ss = 0;
        for (double x : v) ss += x * x;
        double norm = Math.sqrt(ss);
        if (!(norm > 0)) throw new IllegalArgumentException("zero-shot: zero embedding cannot be normalized");
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (float) (v[i] / norm);
        return out;
    }
}
