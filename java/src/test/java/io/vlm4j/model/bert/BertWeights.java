package io.vlm4j.model.bert;

import io.vlm4j.io.WeightStore;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Weight sources for the BERT tests: seeded random tensors in memory, and a safetensors file. */
final class BertWeights {
    private BertWeights() {}

    /** Named F32 tensors in memory; a missing name or a wrong shape is an IOException naming the tensor. */
    static final class InMemory implements WeightSource {
        final Map<String, float[]> values = new LinkedHashMap<>();
        final Map<String, long[]> shapes = new LinkedHashMap<>();

        void put(String name, float[] v, long... shape) {
            values.put(name, v);
            shapes.put(name, shape);
        }

        @Override
        public Tensor tensor(String name, long... shape) throws IOException {
            float[] v = values.get(name);
            if (v == null) throw new IOException("missing tensor '" + name + "'");
            if (!Arrays.equals(shapes.get(name), shape)) {
                throw new IOException("tensor '" + name + "' has shape " + Arrays.toString(shapes.get(name))
                        + ", expected " + Arrays.toString(shape));
            }
            return Tensor.of(v, shape);
        }

        @Override
        public boolean contains(String name) { return values.containsKey(name); }

        @Override
        public String describe() { return "in-memory test weights"; }
    }

    /**
     * Every tensor of a BERT tower under {@code prefix}, with values large enough that errors show (weights
     * N(0, 0.2)·√(24/fan-in), embeddings N(0, 0.5), LayerNorm γ = 1 + 0.1·N, β and biases 0.1·N); the pooler only
     * when {@code withPooler}; the projection's tensors under {@code projPrefix}.
     */
    static InMemory random(BertConfig c, String prefix, boolean withPooler, BertTextTower.Projection projection,
                           String projPrefix, int e, long seed) {
        Random rng = new Random(seed);
        InMemory w = new InMemory();
        int d = c.hidden(), f = c.intermediate();
        String emb = prefix + "embeddings.";
        w.put(emb + "word_embeddings.weight", gaussian(rng, c.vocab() * d, 0.5), c.vocab(), d);
        w.put(emb + "position_embeddings.weight", gaussian(rng, c.maxPositions() * d, 0.5), c.maxPositions(), d);
        w.put(emb + "token_type_embeddings.weight", gaussian(rng, c.typeVocab() * d, 0.5), c.typeVocab(), d);
        layerNorm(w, rng, emb + "LayerNorm", d);
        for (int i = 0; i < c.layers(); i++) {
            String p = prefix + "encoder.layer." + i + ".";
            for (String n : new String[] {"query", "key", "value"}) linear(w, rng, p + "attention.self." + n, d, d, true);
            linear(w, rng, p + "attention.output.dense", d, d, true);
            layerNorm(w, rng, p + "attention.output.LayerNorm", d);
            linear(w, rng, p + "intermediate.dense", f, d, true);
            linear(w, rng, p + "output.dense", d, f, true);
            layerNorm(w, rng, p + "output.LayerNorm", d);
        }
        if (withPooler) linear(w, rng, prefix + "pooler.dense", d, d, true);
        switch (projection) {
            case NONE -> {}
            case LINEAR -> w.put(projPrefix + "weight", gaussian(rng, e * d, 0.2 * Math.sqrt(24.0 / d)), e, d);
            case MLP -> {
                int h = (d + e) / 2;
                w.put(projPrefix + "0.weight", gaussian(rng, h * d, 0.2 * Math.sqrt(24.0 / d)), h, d);
                w.put(projPrefix + "2.weight", gaussian(rng, e * h, 0.2 * Math.sqrt(24.0 / h)), e, h);
            }
        }
        return w;
    }

    private static void linear(InMemory w, Random rng, String name, int out, int in, boolean bias) {
        w.put(name + ".weight", gaussian(rng, out * in, 0.2 * Math.sqrt(24.0 / in)), out, in);
        if (bias) w.put(name + ".bias", gaussian(rng, out, 0.1), out);
    }

    private static void layerNorm(InMemory w, Random rng, String name, int d) {
        float[] gamma = gaussian(rng, d, 0.1);
        for (int i = 0; i < d; i++) gamma[i] += 1;
        w.put(name + ".weight", gamma, d);
        w.put(name + ".bias", gaussian(rng, d, 0.1), d);
    }

    private static float[] gaussian(Random rng, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rng.nextGaussian() * std);
        return v;
    }

    /** A safetensors file (or model directory) as a weight source. */
    static WeightSource of(WeightStore store) {
        return new io.vlm4j.model.clip.StoreWeights(store);
    }
}
