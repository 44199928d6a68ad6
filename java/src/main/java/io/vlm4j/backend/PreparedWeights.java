package io.vlm4j.backend;

import io.vlm4j.tensor.Tensor;
import java.util.List;

/**
 * The backend's prepared forms ({@link Backend#prepareLinearWeight}) of an encoder's linear weights, by [layer][which]:
 * built after loading and again after adapters are merged into the weights (a prepared form is only valid for the
 * values it was made from). An entry is null where the backend prepares nothing, and every entry while none are built.
 */
public final class PreparedWeights implements AutoCloseable {
    private final Backend backend;
    private Tensor[][] prepared;  // null until built

    public PreparedWeights(Backend backend) {
        this.backend = backend;
    }

    /** (Re)builds the prepared form of every {@code weights.get(layer)[which]}, releasing the previous ones. */
    public void rebuild(List<Tensor[]> weights) {
        close();
        Tensor[][] p = new Tensor[weights.size()][];
        try {
            for (int i = 0; i < p.length; i++) {
                Tensor[] w = weights.get(i);
                p[i] = new Tensor[w.length];
                for (int j = 0; j < w.length; j++) p[i][j] = backend.prepareLinearWeight(w[j]);
            }
        } catch (RuntimeException e) {
            release(p);
            throw e;
        }
        prepared = p;
    }

    /** The prepared form of weight [layer][which], or null. */
    public Tensor get(int layer, int which) {
        return prepared == null ? null : prepared[layer][which];
    }

    private static void release(Tensor[][] p) {
        for (Tensor[] row : p) if (row != null) for (Tensor t : row) if (t != null) t.close();
    }

    @Override
    public void close() {
        if (prepared != null) release(prepared);
        prepared = null;
    }
}
