package io.vlm4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Hand-computed cases for every metric, then sklearn 1.9.1's values (eval/metrics.json). */
class ClassificationMetricsTest {
    private static final double EXACT = 1e-12;

    @Test
    void aurocByHand() {
        // sklearn's docstring example.
        assertEquals(0.75, ClassificationMetrics.auroc(new double[] {0.1, 0.4, 0.35, 0.8}, new boolean[] {false, false, true, true}), EXACT);
        // Ties: positives {2, 3}, negatives {1, 2}: pairs 1 + ½ + 1 + 1 = 3.5 of 4.
        assertEquals(0.875, ClassificationMetrics.auroc(new double[] {1, 2, 2, 3}, new boolean[] {false, true, false, true}), EXACT);
        // All tied: one half.
        assertEquals(0.5, ClassificationMetrics.auroc(new double[] {5, 5, 5, 5}, new boolean[] {true, false, true, false}), EXACT);
        // Perfectly wrong.
        assertEquals(0, ClassificationMetrics.auroc(new double[] {3, 2, 1}, new boolean[] {false, false, true}), EXACT);
        // One class only: undefined.
        assertTrue(Double.isNaN(ClassificationMetrics.auroc(new double[] {1, 2}, new boolean[] {true, true})));
        assertTrue(Double.isNaN(ClassificationMetrics.auroc(new double[] {1, 2}, new boolean[] {false, false})));
    }

    /**
     * Six samples, three classes. Predictions 0,1,1,1,2,0; confusion [[1,1,0],[0,2,0],[1,0,1]]. Recall ½, 1, ½;
     * precision ½, ⅔, 1; F1 ½, 0.8, ⅔. Column AUROCs (with a tie in columns 1 and 2): 7/8, 7.5/8, 7.5/8.
     */
    @Test
    void multiclassByHand() {
        int[] y = {0, 0, 1, 1, 2, 2};
        double[][] p = {
            {0.6, 0.3, 0.1},
            {0.3, 0.5, 0.2},
            {0.2, 0.7, 0.1},
            {0.1, 0.5, 0.4},
            {0.1, 0.2, 0.7},
            {0.5, 0.1, 0.4},
        };
        MulticlassReport r = ClassificationMetrics.multiclass(y, p, List.of("a", "b", "c"));
        assertArrayEquals(new int[][] {{1, 1, 0}, {0, 2, 0}, {1, 0, 1}}, r.confusionMatrix());
        assertEquals(4.0 / 6, r.accuracy(), EXACT);
        assertEquals(2.0 / 3, r.macroAccuracy(), EXACT);
        assertEquals(2.0 / 3, r.balancedAccuracy(), EXACT);
        assertEquals((0.5 + 0.8 + 2.0 / 3) / 3, r.macroF1(), EXACT);
        double[] recall = {0.5, 1, 0.5}, precision = {0.5, 2.0 / 3, 1}, f1 = {0.5, 0.8, 2.0 / 3}, auroc = {7 / 8.0, 7.5 / 8, 7.5 / 8};
        int[] support = {2, 2, 2}, predicted = {2, 3, 1};
        for (int c = 0; c < 3; c++) {
            MulticlassReport.PerClass pc = r.perClass().get(c);
            assertEquals(support[c], pc.support());
            assertEquals(predicted[c], pc.predicted());
            assertEquals(recall[c], pc.accuracy(), EXACT, "recall " + c);
            assertEquals(precision[c], pc.precision(), EXACT, "precision " + c);
            assertEquals(f1[c], pc.f1(), EXACT, "f1 " + c);
            assertEquals(auroc[c], pc.auroc(), EXACT, "auroc " + c);
        }
        assertEquals((7 / 8.0 + 7.5 / 8 + 7.5 / 8) / 3, r.macroAuroc(), EXACT);
        assertTrue(r.notes().isEmpty(), r.notes().toString());
    }

    /** Class 2 never in the labels but predicted once: NaN recall and AUROC, out of the macro means, F1 = 0 counted. */
    @Test
    void absentClassByHand() throws Exception {
        int[] y = {0, 0, 1, 1};
        double[][] p = {{0.7, 0.2, 0.1}, {0.3, 0.2, 0.5}, {0.2, 0.6, 0.2}, {0.1, 0.8, 0.1}};
        MulticlassReport r = ClassificationMetrics.multiclass(y, p, List.of("normal", "pneumonia", "covid"));
        assertEquals(0.75, r.accuracy(), EXACT);
        assertEquals(0.75, r.macroAccuracy(), EXACT);
        assertEquals(0.75, r.balancedAccuracy(), EXACT);
        assertEquals((2.0 / 3 + 1 + 0) / 3, r.macroF1(), EXACT);
        MulticlassReport.PerClass covid = r.perClass().get(2);
        assertEquals(0, covid.support());
        assertEquals(1, covid.predicted());
        assertTrue(Double.isNaN(covid.accuracy()));
        assertTrue(Double.isNaN(covid.auroc()));
        assertEquals(0, covid.f1(), EXACT);
        assertEquals(1.0, r.macroAuroc(), EXACT);
        assertEquals(1, r.notes().size());
        assertTrue(r.notes().get(0).contains("'covid'") && r.notes().get(0).contains("macro AUROC"), r.notes().get(0));

        // JSON: undefined values are null (also through a plain ObjectMapper), the note says why.
        for (String json : List.of(r.toJson(), new ObjectMapper().writeValueAsString(r))) {
            JsonNode n = new ObjectMapper().readTree(json);
            assertTrue(n.get("perClass").get(2).get("auroc").isNull(), json);
            assertTrue(n.get("perClass").get(2).get("accuracy").isNull(), json);
            assertEquals(1.0, n.get("macroAuroc").asDouble(), EXACT);
            assertEquals(3, n.get("confusionMatrix").size());
            assertTrue(n.get("notes").get(0).asText().contains("covid"));
            assertTrue(!json.contains("\"NaN\"") && !json.contains(": NaN") && !json.contains(":NaN"), json);
        }
        String table = r.toTable();
        assertTrue(table.contains("covid") && table.contains("n/a") && table.contains("balanced accuracy"), table);
    }

    @Test
    void notesWhenScoresAreNotProbabilities() {
        MulticlassReport r = ClassificationMetrics.multiclass(new int[] {0, 1}, new double[][] {{2, -1}, {0, 3}});
        assertTrue(r.notes().stream().anyMatch(s -> s.contains("not probabilities")), r.notes().toString());
        assertEquals(List.of("0", "1"), r.classNames());
    }

    /**
     * Two labels, four samples, logits. Label 0: positives {2, −0.5}, negatives {0, −1}: AUROC 3/4; predicted (z ≥ 0)
     * T,T,F,F against T,F,T,F: accuracy ½. Label 1 never present: AUROC undefined; predicted F,F,T,T: accuracy ½.
     */
    @Test
    void multilabelByHand() throws Exception {
        int[][] y = {{1, 0}, {0, 0}, {1, 0}, {0, 0}};
        double[][] z = {{2, -1}, {0, -3}, {-0.5, 0}, {-1, 1}};
        double[][] p = new double[4][2];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 2; j++) p[i][j] = 1 / (1 + Math.exp(-z[i][j]));
        for (MultilabelReport r : List.of(
                ClassificationMetrics.multilabel(y, z, ClassificationMetrics.ScoreKind.LOGITS, List.of("effusion", "fracture")),
                ClassificationMetrics.multilabel(y, p, ClassificationMetrics.ScoreKind.PROBABILITIES, List.of("effusion", "fracture")))) {
            assertEquals(0.75, r.perLabel().get(0).auroc(), EXACT);
            assertEquals(0.5, r.perLabel().get(0).accuracy(), EXACT);
            assertTrue(Double.isNaN(r.perLabel().get(1).auroc()));
            assertEquals(0.5, r.perLabel().get(1).accuracy(), EXACT);
            assertEquals(0.75, r.macroAuroc(), EXACT);
            assertEquals(0.5, r.macroAccuracy(), EXACT);
            assertEquals(2, r.perLabel().get(0).positives());
            assertEquals(1, r.notes().size());
            assertTrue(r.notes().get(0).contains("'fracture'"), r.notes().get(0));
            JsonNode n = new ObjectMapper().readTree(r.toJson());
            assertTrue(n.get("perLabel").get(1).get("auroc").isNull());
            assertTrue(r.toTable().contains("fracture"));
        }
        assertThrows(IllegalArgumentException.class, () -> ClassificationMetrics.multilabel(y, z,
                ClassificationMetrics.ScoreKind.PROBABILITIES, List.of("a", "b")));
        assertThrows(IllegalArgumentException.class, () -> ClassificationMetrics.multilabel(new int[][] {{2, 0}}, new double[][] {{0, 0}},
                ClassificationMetrics.ScoreKind.LOGITS, List.of("a", "b")));
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> ClassificationMetrics.multiclass(new int[] {0, 3}, new double[][] {{1, 0}, {0, 1}}));
        assertThrows(IllegalArgumentException.class, () -> ClassificationMetrics.multiclass(new int[] {0}, new double[][] {{1, 0}, {0, 1}}));
        assertThrows(IllegalArgumentException.class, () -> ClassificationMetrics.multiclass(new int[] {0, 1}, new double[][] {{1, Double.NaN}, {0, 1}}));
        assertThrows(IllegalArgumentException.class, () -> ClassificationMetrics.multiclass(new int[] {0, 1}, new double[][] {{1, 0}, {0, 1}}, List.of("x")));
    }

    @Test
    void matchesScikitLearnMulticlass() throws Exception {
        JsonNode fx = EvalFixtures.read("metrics.json");
        int cases = 0;
        for (JsonNode c : fx.get("multiclass")) {
            String what = c.get("name").asText();
            int[] y = EvalFixtures.ints(c.get("labels"));
            double[][] s = EvalFixtures.matrix(c.get("scores"));
            List<String> names = new ArrayList<>();
            for (int k = 0; k < s[0].length; k++) names.add("c" + k);
            MulticlassReport r = ClassificationMetrics.multiclass(y, s, names);
            assertArrayEquals(EvalFixtures.ints(c.get("predicted")), ClassificationMetrics.argmax(s), what);
            assertEquals(c.get("accuracy").asDouble(), r.accuracy(), EXACT, what);
            assertEquals(c.get("balanced_accuracy").asDouble(), r.balancedAccuracy(), EXACT, what);
            assertEquals(c.get("balanced_accuracy").asDouble(), r.macroAccuracy(), EXACT, what);
            assertEquals(c.get("f1_macro").asDouble(), r.macroF1(), EXACT, what);
            assertEquals(c.get("auroc_macro").asDouble(), r.macroAuroc(), EXACT, what);
            double[] per = EvalFixtures.vector(c.get("auroc_per_class"));
            for (int k = 0; k < per.length; k++) {
                if (Double.isNaN(per[k])) assertTrue(Double.isNaN(r.perClass().get(k).auroc()), what + " class " + k);
                else assertEquals(per[k], r.perClass().get(k).auroc(), EXACT, what + " class " + k);
            }
            cases++;
        }
        assertEquals(3, cases);
    }

    @Test
    void matchesScikitLearnMultilabel() throws Exception {
        JsonNode fx = EvalFixtures.read("metrics.json");
        for (JsonNode c : fx.get("multilabel")) {
            String what = c.get("name").asText();
            int[][] y = EvalFixtures.intMatrix(c.get("labels"));
            double[][] s = EvalFixtures.matrix(c.get("scores"));
            List<String> names = new ArrayList<>();
            for (int k = 0; k < s[0].length; k++) names.add("l" + k);
            MultilabelReport r = ClassificationMetrics.multilabel(y, s, ClassificationMetrics.ScoreKind.PROBABILITIES, names);
            assertEquals(c.get("auroc_macro").asDouble(), r.macroAuroc(), EXACT, what);
            assertEquals(c.get("accuracy_macro").asDouble(), r.macroAccuracy(), EXACT, what);
            double[] per = EvalFixtures.vector(c.get("auroc_per_label")), acc = EvalFixtures.vector(c.get("accuracy_per_label"));
            for (int k = 0; k < per.length; k++) {
                if (Double.isNaN(per[k])) assertTrue(Double.isNaN(r.perLabel().get(k).auroc()), what + " label " + k);
                else assertEquals(per[k], r.perLabel().get(k).auroc(), EXACT, what + " label " + k);
                assertEquals(acc[k], r.perLabel().get(k).accuracy(), EXACT, what + " label " + k);
            }
        }
    }
}
