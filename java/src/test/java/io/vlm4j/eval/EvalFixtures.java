package io.vlm4j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;

/** Reads the scikit-learn fixtures written by models/scripts/make_eval_metric_fixtures.py (resources eval/). */
final class EvalFixtures {
    private EvalFixtures() {}

    static JsonNode read(String name) throws Exception {
        try (InputStream in = EvalFixtures.class.getResourceAsStream("/eval/" + name)) {
            if (in == null) throw new IllegalStateException("missing test resource eval/" + name);
            return new ObjectMapper().readTree(in);
        }
    }

    static double[][] matrix(JsonNode a) {
        double[][] m = new double[a.size()][];
        for (int i = 0; i < m.length; i++) m[i] = vector(a.get(i));
        return m;
    }

    static double[] vector(JsonNode a) {
        double[] v = new double[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).isNull() ? Double.NaN : a.get(i).asDouble();
        return v;
    }

    static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
        return v;
    }

    static int[][] intMatrix(JsonNode a) {
        int[][] m = new int[a.size()][];
        for (int i = 0; i < m.length; i++) m[i] = ints(a.get(i));
        return m;
    }
}
