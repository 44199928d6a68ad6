package io.vlm4j.model.clip;

import io.vlm4j.backend.OpChecks;
import io.vlm4j.eval.ZeroShotHead;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.text.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Zero-shot classification head built from class names and prompt templates (spec 07 §3, open_clip
 * {@code zero_shot_classifier.build_zero_shot_classifier}): each template filled with each label is encoded and
 * L2-normalized; a class weight is the renormalized mean of its template embeddings (prompt ensembling). An image's
 * logits are {@code scale · normalize(image) · W}, probabilities their softmax over classes. This class encodes the
 * prompts; the math is {@link ZeroShotHead}'s (float64), which also serves precomputed embeddings.
 */
public final class ZeroShotClassifier {
    /** The scale open_clip's evaluation and the OpenAI notebook use (not exp(logit_scale)); spec 08 item 27. */
    public static final float OPEN_CLIP_SCALE = 100f;
    /** The prompt when none is given: the CLIP paper's and open_clip's basic template. */
    public static final String DEFAULT_TEMPLATE = "a photo of a {}.";

    /** {@code templates}, or the {@link #DEFAULT_TEMPLATE} alone when it is null or empty (an option not given). */
    public static List<String> templatesOrDefault(List<String> templates) {
        return templates == null || templates.isEmpty() ? List.of(DEFAULT_TEMPLATE) : List.copyOf(templates);
    }

    private final List<String> labels;
    private final ZeroShotHead head;

    private ZeroShotClassifier(List<String> labels, ZeroShotHead head) {
        this.labels = List.copyOf(labels);
        this.head = head;
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
        float[][][] perClass = new float[labels.size()][k][];  // [C][T][E]
        try (Tensor ids = tokenizer.encodeBatch(prompts, context); Tensor emb = clip.encodeTexts(ids, true)) {
            int e = (int) emb.dim(1);
            float[] flat = emb.toFloatArray();  // [C·T, E], unit rows
            for (int c = 0; c < labels.size(); c++) {
                for (int j = 0; j < k; j++) {
                    int row = (c * k + j) * e;
                    perClass[c][j] = Arrays.copyOfRange(flat, row, row + e);
                }
            }
        }
        return new ZeroShotClassifier(labels, ZeroShotHead.fromTemplates(perClass, scale));
    }

    public List<String> labels() { return labels; }

    public float scale() { return (float) head.scale(); }

    /** The head (class weights and scale) for use on precomputed embeddings. */
    public ZeroShotHead head() { return head; }

    /** Logits [N][C] of image embeddings F32 [N, E] (normalized here; they need not be). */
    public float[][] logits(Tensor imageEmbeds) {
        return toFloat(head.logits(rows(imageEmbeds)));
    }

    /** Softmax over classes of {@link #logits(Tensor)}, [N][C]. */
    public float[][] probabilities(Tensor imageEmbeds) {
        return toFloat(head.probabilities(rows(imageEmbeds)));
    }

    /**
     * Per-label sigmoid(logit + bias) of {@link #logits(Tensor)}, [N][C]: the probabilities of a model trained with the
     * sigmoid loss (SigLIP; spec 07 §1.4, §2), each label on its own (they need not sum to 1).
     */
    public float[][] sigmoidProbabilities(Tensor imageEmbeds, float bias) {
        return toFloat(head.sigmoidProbabilities(rows(imageEmbeds), bias));
    }

    private float[][] rows(Tensor imageEmbeds) {
        OpChecks.requireDType("zero-shot", "imageEmbeds", imageEmbeds, DType.F32);
        OpChecks.requireRank("zero-shot", "imageEmbeds", imageEmbeds, 2);
        long e = imageEmbeds.dim(1);
        if (e != head.dim()) throw new IllegalArgumentException("zero-shot: image embeddings have " + e + " dims, the classifier " + head.dim());
        return imageEmbeds.toFloatRows();
    }

    private static float[][] toFloat(double[][] m) {
        float[][] out = new float[m.length][];
        for (int i = 0; i < m.length; i++) {
            out[i] = new float[m[i].length];
            for (int j = 0; j < m[i].length; j++) out[i][j] = (float) m[i][j];
        }
        return out;
    }
}
