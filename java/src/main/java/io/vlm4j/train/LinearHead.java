package io.vlm4j.train;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A classification head on the L2-normalized image embedding (spec 07 §5): logits = s·(u·Wᵀ) + b, W [C, E], b [C],
 * F32 parameters on the backend's device, s a fixed logit scale (CLIP's exp(logit_scale) in training: a unit vector
 * times a small W would give near-uniform softmaxes for many steps; s = 1 is the plain linear layer). Its math runs
 * on the host in double (C·E values: small); saved as {@code head.safetensors} with keys {@code weight} and
 * {@code bias} and s in the metadata ({@code logit_scale}; absent = 1).
 */
public final class LinearHead implements AutoCloseable {
    public static final String FILE = "head.safetensors";

    private final Backend backend;
    private final TensorScope owned;
    private final Parameter weight, bias;
    private final int classes, dim;
    private final double scale;

    /** A plain linear head (s = 1) with the given initial values (weight [C][E], bias [C]). */
    public LinearHead(Backend backend, double[][] w, double[] b) {
        this(backend, w, b, 1);
    }

    /** A head with logit scale {@code scale} and the given initial values (weight [C][E], bias [C]). */
    public LinearHead(Backend backend, double[][] w, double[] b, double scale) {
        if (!(scale > 0) || !Double.isFinite(scale)) throw new IllegalArgumentException("head: logit scale must be > 0, got " + scale);
        this.scale = scale;
        this.backend = backend;
        this.classes = w.length;
        this.dim = w[0].length;
        if (b.length != classes) throw new IllegalArgumentException("head: " + classes + " weight rows but " + b.length + " biases");
        this.owned = new TensorScope(backend.device());
        try {
            Tensor wv = owned.f32(classes, dim), bv = owned.f32(classes);
            wv.copyFrom(flatten(w));
            bv.copyFrom(toFloat(b));
            weight = new Parameter("head.weight", wv, owned.f32(classes, dim), true);
            bias = new Parameter("head.bias", bv, owned.f32(classes), false);
        } catch (RuntimeException e) {
            owned.close();
            throw e;
        }
    }

    /** Reads {@code dir/head.safetensors}. */
    public static LinearHead load(Backend backend, Path dir) throws IOException {
        double scale = 1;
        try (io.vlm4j.io.SafetensorsFile f = io.vlm4j.io.SafetensorsFile.open(dir.resolve(FILE))) {
            String s = f.metadata().get("logit_scale");
            if (s != null) {
                try {
                    scale = Double.parseDouble(s);
                } catch (NumberFormatException e) {
                    throw new io.vlm4j.io.ModelFormatException(dir.resolve(FILE), "metadata logit_scale '" + s + "' is not a number");
                }
            }
        }
        try (WeightStore store = WeightStore.open(dir.resolve(FILE))) {
            try (Tensor w = store.load("weight"); Tensor b = store.load("bias")) {
                if (w.rank() != 2 || b.rank() != 1 || b.dim(0) != w.dim(0)) {
                    throw new io.vlm4j.io.ModelFormatException(dir.resolve(FILE), "weight " + w + " and bias " + b + " do not form a head");
                }
                float[][] rows = w.toFloatRows();
                double[][] wd = new double[rows.length][];
                for (int i = 0; i < rows.length; i++) wd[i] = toDouble(rows[i]);
                return new LinearHead(backend, wd, toDouble(b.toFloatArray()), scale);
            }
        }
    }

    public int classes() { return classes; }

    public int dim() { return dim; }

    /** The fixed logit scale s. */
    public double scale() { return scale; }

    /** The trainable weight (decayed) and bias (not decayed). */
    public List<Parameter> parameters() { return List.of(weight, bias); }

    /** Current weight [C][E] and bias [C] on the host. */
    public double[][] weights() {
        float[] w = weight.value().toFloatArray();
        double[][] out = new double[classes][dim];
        for (int c = 0; c < classes; c++) for (int e = 0; e < dim; e++) out[c][e] = w[c * dim + e];
        return out;
    }

    public double[] biases() { return toDouble(bias.value().toFloatArray()); }

    /** logits [B][C] of unit embeddings u [B][E]. */
    public double[][] logits(double[][] u) {
        double[][] w = weights();
        double[] b = biases();
        double[][] z = new double[u.length][classes];
        for (int i = 0; i < u.length; i++) {
            if (u[i].length != dim) throw new IllegalArgumentException("head: embedding has " + u[i].length + " dims, the head " + dim);
            for (int c = 0; c < classes; c++) {
                double s = 0;
                for (int e = 0; e < dim; e++) s += w[c][e] * u[i][e];
                z[i][c] = scale * s + b[c];
            }
        }
        return z;
    }

    /** Accumulates dW = s·dZᵀ·u and db = Σ dZ into the gradients and returns dU = s·dZ·W. */
    public double[][] backward(double[][] u, double[][] dZ) {
        double[][] w = weights();
        double[] gw = new double[classes * dim], gb = new double[classes];
        double[][] du = new double[u.length][dim];
        for (int i = 0; i < u.length; i++) {
            for (int c = 0; c < classes; c++) {
                gb[c] += dZ[i][c];
                double g = scale * dZ[i][c];
                for (int e = 0; e < dim; e++) {
                    gw[c * dim + e] += g * u[i][e];
                    du[i][e] += g * w[c][e];
                }
            }
        }
        addTo(weight.grad(), gw);
        addTo(bias.grad(), gb);
        return du;
    }

    private void addTo(Tensor grad, double[] g) {
        try (Tensor h = Tensor.of(toFloat(g), grad.shape())) {
            if (grad.device() == h.device()) {
                backend.add(grad, h, grad);
                return;
            }
            try (Tensor d = backend.onDevice(h)) {
                backend.add(grad, d, grad);
            }
        }
    }

    /** Writes weight and bias to {@code dir/head.safetensors} (atomically) with the class names as metadata. */
    public void save(Path dir, List<String> classNames) throws IOException {
        try (TensorScope host = new TensorScope()) {
            Tensor w = host.f32(classes, dim), b = host.f32(classes);
            w.copyFrom(weight.value());
            b.copyFrom(bias.value());
            new SafetensorsWriter().metadata("classes", String.join("\n", classNames)).metadata("logit_scale", Double.toString(scale))
                    .add("weight", w).add("bias", b)
                    .write(dir.resolve(FILE));
        }
    }

    private static float[] flatten(double[][] w) {
        float[] f = new float[w.length * w[0].length];
        for (int i = 0; i < w.length; i++) {
            if (w[i].length != w[0].length) throw new IllegalArgumentException("head: ragged weight rows");
            for (int j = 0; j < w[i].length; j++) f[i * w[0].length + j] = (float) w[i][j];
        }
        return f;
    }

    static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    @Override
    public void close() {
        owned.close();
    }
}
