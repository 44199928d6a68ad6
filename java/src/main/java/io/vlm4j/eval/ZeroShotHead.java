package io.vlm4j.eval;

/**
 * The zero-shot classifier's math (spec 07 §3; open_clip {@code zero_shot_classifier.build_zero_shot_classifier}),
 * in float64 on embeddings that are already computed; {@link io.vlm4j.model.clip.ZeroShotClassifier} encodes the
 * prompts and delegates here.
 * <ol>
 *   <li>each template embedding e_{c,k} is L2-normalized (a no-op for {@code encodeTexts(…, true)} output);</li>
 *   <li>w_c = normalize(mean_k e_{c,k}): prompt ensembling averages the normalized embeddings, then renormalizes;</li>
 *   <li>logits = scale · normalize(image) · W, probabilities their softmax, the prediction their argmax.</li>
 * </ol>
 * W is the spec's [E, C] matrix, stored here as C rows of E.
 */
public final class ZeroShotHead {
    /** The scale of open_clip's evaluation and the OpenAI notebook (not exp(logit_scale)); spec 07 §3. */
    public static final double OPEN_CLIP_SCALE = 100;

    private final double[][] weights;  // [C][E], unit rows
    private final double scale;

    private ZeroShotHead(double[][] weights, double scale) {
        if (!(scale > 0) || !Double.isFinite(scale)) throw new IllegalArgumentException("zero-shot: scale must be > 0, got " + scale);
        this.weights = weights;
        this.scale = scale;
    }

    /** @param templateEmbeddings [C][T][E]: for each class, the text embeddings of its T prompts (T may vary by class) */
    public static ZeroShotHead fromTemplates(double[][][] templateEmbeddings, double scale) {
        return new ZeroShotHead(classWeights(templateEmbeddings), scale);
    }

    public static ZeroShotHead fromTemplates(float[][][] templateEmbeddings, double scale) {
        double[][][] d = new double[templateEmbeddings.length][][];
        for (int c = 0; c < d.length; c++) d[c] = Matrices.toDouble(templateEmbeddings[c]);
        return fromTemplates(d, scale);
    }

    /** A head from class weight rows [C][E] (normalized here), e.g. saved from an earlier run. */
    public static ZeroShotHead fromWeights(double[][] classWeights, double scale) {
        Matrices.requireMatrix("zero-shot", "class weights", classWeights);
        double[][] w = new double[classWeights.length][];
        for (int c = 0; c < w.length; c++) w[c] = Matrices.normalized(classWeights[c], "zero-shot: class weight " + c);
        return new ZeroShotHead(w, scale);
    }

    /** W of spec 07 §3 as rows: w_c = normalize(mean_k normalize(e_{c,k})), [C][E]. */
    public static double[][] classWeights(double[][][] templateEmbeddings) {
        if (templateEmbeddings == null || templateEmbeddings.length == 0) throw new IllegalArgumentException("zero-shot: no classes");
        int e = -1;
        double[][] w = new double[templateEmbeddings.length][];
        for (int c = 0; c < w.length; c++) {
            double[][] t = templateEmbeddings[c];
            int dim = Matrices.requireMatrix("zero-shot", "template embeddings of class " + c, t);
            if (e >= 0 && dim != e) throw new IllegalArgumentException("zero-shot: class " + c + " has " + dim + "-dim embeddings, class 0 " + e);
            e = dim;
            double[] mean = new double[e];
            for (int k = 0; k < t.length; k++) {
                double[] u = Matrices.normalized(t[k], "zero-shot: text embedding (class " + c + ", template " + k + ")");
                for (int i = 0; i < e; i++) mean[i] += u[i];
            }
            // The 1/T of the mean cancels in the renormalization.
            w[c] = Matrices.normalized(mean, "zero-shot: mean text embedding of class " + c);
        }
        return w;
    }

    public int numClasses() { return weights.length; }

    public int dim() { return weights[0].length; }

    public double scale() { return scale; }

    /** The class weight rows [C][E] (unit norm). */
    public double[][] classWeights() { return Matrices.copy(weights); }

    /** scale · normalize(image) · W: [N][C]. The images need not be normalized. */
    public double[][] logits(double[][] images) {
        return scaledCosines(images, weights, scale);
    }

    public double[][] logits(float[][] images) { return logits(Matrices.toDouble(images)); }

    /** Softmax over classes of {@link #logits}: [N][C]. */
    public double[][] probabilities(double[][] images) {
        double[][] z = logits(images);
        for (int i = 0; i < z.length; i++) z[i] = Matrices.softmax(z[i]);
        return z;
    }

    public double[][] probabilities(float[][] images) { return probabilities(Matrices.toDouble(images)); }

    /**
     * Per-class sigmoid(logit + bias), [N][C]: the probabilities of a model trained with the sigmoid loss (SigLIP; spec
     * 07 §1.4, §2), each class on its own (they need not sum to 1).
     */
    public double[][] sigmoidProbabilities(double[][] images, double bias) {
        double[][] z = logits(images);
        for (double[] row : z) for (int c = 0; c < row.length; c++) row[c] = LogisticLoss.sigmoid(row[c] + bias);
        return z;
    }

    public double[][] sigmoidProbabilities(float[][] images, double bias) { return sigmoidProbabilities(Matrices.toDouble(images), bias); }

    /** Argmax class per image (the first on an exact tie). */
    public int[] predict(double[][] images) { return ClassificationMetrics.argmax(logits(images)); }

    public int[] predict(float[][] images) { return predict(Matrices.toDouble(images)); }

    /**
     * Multi-label zero-shot from a positive and a negative prompt set per label (e.g. "chest x-ray with effusion" /
     * "chest x-ray with no effusion"). Each side is ensembled as above; the probability that label ℓ is present is
     * the softmax over the pair {positive, negative} of the scaled logits (the common medical practice, e.g.
     * CheXzero's {@code run_softmax_eval} with the pair ("{}", "no {}")):
     * <pre>  p_ℓ = e^{s·⟨u,p_ℓ⟩} / (e^{s·⟨u,p_ℓ⟩} + e^{s·⟨u,n_ℓ⟩}) = σ(s·(⟨u,p_ℓ⟩ − ⟨u,n_ℓ⟩))</pre>
     * The pairwise softmax and the sigmoid of the logit difference are the same number, so this computes the
     * difference once ({@link MultiLabel#logitDifferences}) and takes its sigmoid, which is stable for any scale.
     * The scale moves the probabilities (and what a 0.5 threshold decides) but not the per-label AUROC; CheXzero
     * takes the softmax of the plain cosine similarities, which is scale 1 here.
     */
    public static MultiLabel multiLabel(double[][][] positiveTemplates, double[][][] negativeTemplates, double scale) {
        return new MultiLabel(fromTemplates(positiveTemplates, scale), fromTemplates(negativeTemplates, scale));
    }

    /** The same from heads already built (e.g. by {@code ZeroShotClassifier} from a model's text tower). */
    public static MultiLabel multiLabel(ZeroShotHead positive, ZeroShotHead negative) {
        return new MultiLabel(positive, negative);
    }

    /** Per-label positive/negative heads; see {@link #multiLabel}. */
    public static final class MultiLabel {
        private final ZeroShotHead positive, negative;

        private MultiLabel(ZeroShotHead positive, ZeroShotHead negative) {
            if (positive.numClasses() != negative.numClasses() || positive.dim() != negative.dim()) {
                throw new IllegalArgumentException("zero-shot multi-label: " + positive.numClasses() + " positive and " + negative.numClasses()
                        + " negative prompt sets (dims " + positive.dim() + ", " + negative.dim() + ")");
            }
            this.positive = positive;
            this.negative = negative;
        }

        public int numLabels() { return positive.numClasses(); }

        /** s·(⟨u,p_ℓ⟩ − ⟨u,n_ℓ⟩): [N][L]; the logits of "present" (sigmoid gives {@link #probabilities}). */
        public double[][] logitDifferences(double[][] images) {
            double[][] zp = positive.logits(images), zn = negative.logits(images);
            for (int i = 0; i < zp.length; i++) for (int l = 0; l < zp[i].length; l++) zp[i][l] -= zn[i][l];
            return zp;
        }

        public double[][] logitDifferences(float[][] images) { return logitDifferences(Matrices.toDouble(images)); }

        /** P(label present) per image and label: [N][L]. */
        public double[][] probabilities(double[][] images) {
            double[][] d = logitDifferences(images);
            for (double[] row : d) for (int l = 0; l < row.length; l++) row[l] = LogisticLoss.sigmoid(row[l]);
            return d;
        }

        public double[][] probabilities(float[][] images) { return probabilities(Matrices.toDouble(images)); }
    }

    private static double[][] scaledCosines(double[][] images, double[][] w, double scale) {
        int e = Matrices.requireMatrix("zero-shot", "image embeddings", images);
        if (e != w[0].length) throw new IllegalArgumentException("zero-shot: image embeddings have " + e + " dims, the classifier " + w[0].length);
        double[][] out = new double[images.length][w.length];
        for (int r = 0; r < images.length; r++) {
            double[] u = Matrices.normalized(images[r], "zero-shot: image embedding " + r);
            for (int c = 0; c < w.length; c++) out[r][c] = scale * Lbfgs.dot(u, w[c]);
        }
        return out;
    }
}
