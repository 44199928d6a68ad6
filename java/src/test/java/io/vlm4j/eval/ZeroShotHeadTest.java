package io.vlm4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Spec 07 §3 by hand on 3-d embeddings; the model-backed path is ZeroShotClassifierTest (golden logits). */
class ZeroShotHeadTest {
    private static final double R = Math.sqrt(0.5);

    @Test
    void classWeightsAverageNormalizedTemplatesThenRenormalize() {
        // Class 0: templates (2,0,0) and (0,1,0). Normalized first, the mean is (½,½,0) → (r,r,0). Averaging the raw
        // vectors would give (1,½,0) → a different direction.
        // Class 1: one template (0,0,5) → (0,0,1).
        double[][] w = ZeroShotHead.classWeights(new double[][][] {{{2, 0, 0}, {0, 1, 0}}, {{0, 0, 5}}});
        assertArrayEquals(new double[] {R, R, 0}, w[0], 1e-15);
        assertArrayEquals(new double[] {0, 0, 1}, w[1], 1e-15);
    }

    @Test
    void logitsProbabilitiesAndPredictions() {
        ZeroShotHead h = ZeroShotHead.fromTemplates(new double[][][] {{{1, 0, 0}, {0, 1, 0}}, {{0, 0, 1}}}, ZeroShotHead.OPEN_CLIP_SCALE);
        // Image (3,4,0) → u = (0.6, 0.8, 0): logits 100·(0.6 + 0.8)·r and 0. Image (0,1,1) → u = (0, r, r): 100·½, 100·r.
        double[][] z = h.logits(new double[][] {{3, 4, 0}, {0, 1, 1}});
        assertEquals(100 * 1.4 * R, z[0][0], 1e-12);
        assertEquals(0, z[0][1], 1e-12);
        assertEquals(50, z[1][0], 1e-12);
        assertEquals(100 * R, z[1][1], 1e-12);
        double[][] p = h.probabilities(new float[][] {{0, 1, 1}});
        assertEquals(1 / (1 + Math.exp(100 * R - 50)), p[0][0], 1e-15);
        assertEquals(1, p[0][0] + p[0][1], 1e-15);
        assertArrayEquals(new int[] {0, 1}, h.predict(new double[][] {{3, 4, 0}, {0, 1, 1}}));
        assertEquals(2, h.numClasses());
        assertEquals(3, h.dim());
        // fromWeights renormalizes and gives the same head.
        ZeroShotHead same = ZeroShotHead.fromWeights(new double[][] {{1, 1, 0}, {0, 0, 3}}, 100);
        assertArrayEquals(z[1], same.logits(new double[][] {{0, 1, 1}})[0], 1e-12);
    }

    /** Pairwise softmax over {positive, negative} = sigmoid of the scaled difference, stable at any scale. */
    @Test
    void sigmoidProbabilitiesAreEachLabelsOwn() {
        // SigLIP: p = σ(s·cos + b) per label. Image (3,4,0) → u = (0.6, 0.8, 0); classes e1 and e3: cos 0.6 and 0.
        ZeroShotHead h = ZeroShotHead.fromTemplates(new double[][][] {{{1, 0, 0}}, {{0, 0, 1}}}, 10);
        double[][] p = h.sigmoidProbabilities(new double[][] {{3, 4, 0}}, -5);
        assertEquals(1 / (1 + Math.exp(-(10 * 0.6 - 5))), p[0][0], 1e-12);
        assertEquals(1 / (1 + Math.exp(5)), p[0][1], 1e-12);
        assertTrue(Math.abs(p[0][0] + p[0][1] - 1) > 0.1, "independent per label, not a softmax");
    }

    @Test
    void multiLabelPairwiseSoftmax() {
        double[][][] pos = {{{1, 0, 0}}, {{0, 1, 0}}};
        double[][][] neg = {{{0, 1, 0}}, {{0, 0, 1}}};
        double[][] images = {{1, 2, 2}, {2, 0, 1}, {0, 0, 1}};
        for (double s : new double[] {1, 100, 1e4}) {
            ZeroShotHead.MultiLabel m = ZeroShotHead.multiLabel(pos, neg, s);
            double[][] d = m.logitDifferences(images), p = m.probabilities(images);
            for (int i = 0; i < images.length; i++) {
                double[] u = Matrices.normalized(images[i], "test");
                double[][] pairs = {{u[0], u[1]}, {u[1], u[2]}};  // ⟨u,p_ℓ⟩, ⟨u,n_ℓ⟩
                for (int l = 0; l < 2; l++) {
                    assertEquals(s * (pairs[l][0] - pairs[l][1]), d[i][l], 1e-12 * s);
                    double[] softmax = Matrices.softmax(new double[] {s * pairs[l][0], s * pairs[l][1]});
                    assertEquals(softmax[0], p[i][l], 1e-12, "scale " + s + " image " + i + " label " + l);
                    assertTrue(Double.isFinite(p[i][l]));
                }
            }
            // The logit differences feed the multi-label metrics directly.
            MultilabelReport r = ClassificationMetrics.multilabel(new int[][] {{0, 1}, {1, 0}, {0, 0}}, d,
                    ClassificationMetrics.ScoreKind.LOGITS, List.of("a", "b"));
            assertEquals(1.0, r.perLabel().get(0).auroc(), 1e-15);
            assertEquals(1.0, r.perLabel().get(1).auroc(), 1e-15);
        }
        assertThrows(IllegalArgumentException.class, () -> ZeroShotHead.multiLabel(pos, new double[][][] {{{0, 1, 0}}}, 1));
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> ZeroShotHead.classWeights(new double[][][] {}));
        assertThrows(IllegalArgumentException.class, () -> ZeroShotHead.classWeights(new double[][][] {{{0, 0}}}));
        assertThrows(IllegalArgumentException.class, () -> ZeroShotHead.classWeights(new double[][][] {{{1, 0}}, {{1, 0, 0}}}));
        assertThrows(IllegalArgumentException.class, () -> ZeroShotHead.fromTemplates(new double[][][] {{{1, 0}}}, 0));
        ZeroShotHead h = ZeroShotHead.fromWeights(new double[][] {{1, 0}, {0, 1}}, 1);
        assertThrows(IllegalArgumentException.class, () -> h.logits(new double[][] {{1, 0, 0}}));
        assertThrows(IllegalArgumentException.class, () -> h.logits(new double[][] {{0, 0}}));
    }
}
