package io.vlm4j.backend.reference;


import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.OptionalInt;

/**
 * The float64 reference backend: the oracle of every conformance test. Each op copies its inputs to Java arrays,
 * computes in double with the plainest loops that follow the definition (spec 00 conventions, spec 01 §3), and
 * writes float results back. It is slow on purpose; clarity beats speed here. The row-wise ops, attention and the
 * backward passes of training are defined on double arrays in {@link ReferenceMath}, which tests differentiate
 * numerically.
 *
 * <p>Validation mirrors {@code CpuBackend} call for call (same {@link OpChecks}), so both backends reject exactly
 * the same calls. Because all inputs are copied before anything is written, every allowed aliasing of an output
 * with an input is safe.
 */
public final class ReferenceBackend implements Backend {

    @Override
    public String name() { return "reference"; }

    @Override
    public Device device() { return Device.CPU; }

    @Override
    public int threads() { return 1; }

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Activation act,
                       Tensor residual, Tensor out) {
        OpChecks.MatmulShape s = OpChecks.matmul(a, transA, b, transB, bias, residual, out);
        int batch = (int) s.batch(), m = (int) s.m(), n = (int) s.n(), k = (int) s.k();
        float[] av = a.toFloatArray();                                      // [batch, M, K] or [batch, K, M]
        float[] bv = b.toFloatArray();                                      // [batch|1, K, N] or [batch|1, N, K]
        float[] biasv = bias == null ? null : bias.toFloatArray();          // [N]
        float[] resv = residual == null ? null : residual.toFloatArray();   // [batch, M, N]
        float[] outv = new float[(int) out.numel()];                        // [batch, M, N]
        for (int p = 0; p < batch; p++) {
            int aBase = p * m * k;
            int bBase = s.sharedB() ? 0 : p * k * n;
            int oBase = p * m * n;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int t = 0; t < k; t++) {
                        double aIt = transA ? av[aBase + t * m + i] : av[aBase + i * k + t];
                        double bTj = transB ? bv[bBase + j * k + t] : bv[bBase + t * n + j];
                        sum += aIt * bTj;
                    }
                    if (biasv != null) sum += biasv[j];
                    sum = act.apply(sum);
                    if (resv != null) sum += resv[oBase + i * n + j];
                    outv[oBase + i * n + j] = (float) sum;
                }
            }
        }
        out.copyFrom(outv);
    }

    @Override
    public void patchEmbed(Tensor pixels, Tensor weight, Tensor bias, Tensor out) {
        OpChecks.checkPatchEmbed(pixels, weight, bias, out);
        long bsz = pixels.dim(0), c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3);
        long d = weight.dim(0), p = weight.dim(2);
        float[] px = pixels.toFloatArray();                              // [B, C, H, W]
        float[] wt = weight.toFloatArray();                              // [D, C, P, P]
        float[] bv = bias == null ? null : bias.toFloatArray();          // [D]
        int gridH = (int) (h / p), gridW = (int) (w / p);                // trailing pixels are dropped
        float[] outv = new float[(int) out.numel()];                     // [B, gridH·gridW, D]
        for (int img = 0; img < bsz; img++) {
            for (int gy = 0; gy < gridH; gy++) {
                for (int gx = 0; gx < gridW; gx++) {
                    int token = gy * gridW + gx;                         // row-major over the grid (spec 01 §3.2)
                    for (int o = 0; o < d; o++) {
                        double sum = bv == null ? 0 : bv[o];
                        for (int ch = 0; ch < c; ch++) {
                            for (int dy = 0; dy < p; dy++) {
                                for (int dx = 0; dx < p; dx++) {
                                    long y = gy * p + dy, x = gx * p + dx;
                                    double pixel = px[(int) (((img * c + ch) * h + y) * w + x)];
                                    double kernel = wt[(int) (((o * c + ch) * p + dy) * p + dx)];
                                    sum += pixel * kernel;
                                }
                            }
                        }
                        outv[(int) (((long) img * gridH * gridW + token) * d + o)] = (float) sum;
                    }
                }
            }
        }
        out.copyFrom(outv);
    }

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out) {
        OpChecks.checkLayerNorm(x, gamma, beta, eps, out);
        if (OpChecks.rows(x) == 0) return;
        out.copyFrom(toFloats(ReferenceMath.layerNorm(doubles(x), (int) x.dim(-1), doubles(gamma), doubles(beta), eps)));
    }

    @Override
    public void softmax(Tensor x, Tensor out) {
        OpChecks.checkUnary("softmax", x, out);
        int rows = (int) OpChecks.rows(x), n = rows == 0 ? 0 : (int) x.dim(-1);
        float[] xv = x.toFloatArray();
        float[] outv = new float[xv.length];
        double[] row = new double[n];
        double[] probs = new double[n];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < n; i++) row[i] = xv[r * n + i];
            ReferenceMath.softmaxRow(row, n, probs);
            for (int i = 0; i < n; i++) outv[r * n + i] = (float) probs[i];
        }
        out.copyFrom(outv);
    }

    @Override
    public void activation(Activation act, Tensor x, Tensor out) {
        OpChecks.checkUnary("activation", x, out);
        float[] xv = x.toFloatArray();
        float[] outv = new float[xv.length];
        for (int i = 0; i < xv.length; i++) outv[i] = (float) act.apply(xv[i]);
        out.copyFrom(outv);
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        OpChecks.checkAdd(a, b, out);
        float[] av = a.toFloatArray(), bv = b.toFloatArray();
        float[] outv = new float[av.length];
        for (int i = 0; i < av.length; i++) outv[i] = (float) ((double) av[i] + bv[i]);
        out.copyFrom(outv);
    }

    @Override
    public void addBroadcast(Tensor x, Tensor suffix) {
        OpChecks.checkAddBroadcast(x, suffix);
        float[] xv = x.toFloatArray(), sv = suffix.toFloatArray();
        if (xv.length == 0) return;
        for (int i = 0; i < xv.length; i++) xv[i] = (float) ((double) xv[i] + sv[i % sv.length]);
        x.copyFrom(xv);
    }

    @Override
    public void l2Normalize(Tensor x, float eps, Tensor out) {
        OpChecks.checkUnary("l2Normalize", x, out);
        if (OpChecks.rows(x) == 0) return;
        out.copyFrom(toFloats(ReferenceMath.l2Normalize(doubles(x), (int) x.dim(-1), eps)));
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, boolean causal, Tensor keyMask) {
        OpChecks.AttentionShape s = OpChecks.attention(q, k, v, out, heads, keyMask);
        ReferenceMath.AttentionGeometry g = new ReferenceMath.AttentionGeometry((int) s.batch(), (int) s.lq(), (int) s.lk(),
                heads, (int) s.headDim(), causal, keyMask == null ? null : keyMask.toIntArray());
        out.copyFrom(toFloats(ReferenceMath.attention(doubles(q), doubles(k), doubles(v), g)));
    }

    @Override
    public void gather(Tensor table, Tensor ids, Tensor out) {
        OpChecks.checkGather(table, ids, out);
        long n = ids.numel(), d = table.dim(1);
        long rows = table.dim(0);
        int[] idv = ids.toIntArray();
        for (int i = 0; i < idv.length; i++) {                           // check all ids before writing anything
            if (idv[i] < 0 || idv[i] >= rows) {
                throw new IllegalArgumentException("gather: id " + idv[i] + " at index " + i + " is outside [0, " + rows + ")");
            }
        }
        float[] tv = table.toFloatArray();
        float[] outv = new float[(int) (n * d)];
        for (int i = 0; i < idv.length; i++) System.arraycopy(tv, (int) (idv[i] * d), outv, (int) (i * d), (int) d);
        out.copyFrom(outv);
    }

    @Override
    public long[] eosPool(Tensor hidden, Tensor ids, OptionalInt eosTokenId, Tensor out) {
        OpChecks.checkEosPool(hidden, ids, eosTokenId, out);
        long b = hidden.dim(0), len = hidden.dim(1), d = hidden.dim(2);
        if (b == 0) return new long[0];
        int[] idv = ids.toIntArray();                                    // [B, L]
        float[] hv = hidden.toFloatArray();                              // [B, L, D]
        long[] positions = new long[(int) b];
        float[] outv = new float[(int) (b * d)];                         // [B, D]
        for (int row = 0; row < b; row++) {
            int base = (int) (row * len);
            int pos = -1;
            if (eosTokenId.isEmpty()) {                                  // legacy path: argmax, first maximum wins
                pos = 0;
                for (int t = 1; t < len; t++) if (idv[base + t] > idv[base + pos]) pos = t;
            } else {                                                     // newer path: first id equal to EOS
                for (int t = 0; t < len && pos < 0; t++) if (idv[base + t] == eosTokenId.getAsInt()) pos = t;
                if (pos < 0) {
                    throw new IllegalArgumentException("eosPool: row " + row + " has no EOS token " + eosTokenId.getAsInt());
                }
            }
            positions[row] = pos;
            System.arraycopy(hv, (int) ((base + pos) * d), outv, (int) (row * d), (int) d);
        }
        out.copyFrom(outv);
        return positions;
    }

    @Override
    public void convert(Tensor src, Tensor dst) {
        OpChecks.checkConvert(src, dst);
        if (src.numel() == 0) return;
        if (src.dtype() == dst.dtype()) {
            dst.copyFrom(src);
            return;
        }
        ByteBuffer in = src.asByteBuffer(), outBytes = dst.asByteBuffer();
        int n = (int) src.numel();
        int[] f32Bits = new int[n];                                      // every source value is exact in F32
        for (int i = 0; i < n; i++) {
            f32Bits[i] = switch (src.dtype()) {
                case F32 -> in.getInt(4 * i);
                case F16 -> HalfFloats.f16ToF32Bits(in.getShort(2 * i));
                case BF16 -> HalfFloats.bf16ToF32Bits(in.getShort(2 * i));
                case I32 -> throw new AssertionError("rejected above");
            };
        }
        for (int i = 0; i < n; i++) {                                    // one rounding, to the destination type
            switch (dst.dtype()) {
                case F32 -> outBytes.putInt(4 * i, f32Bits[i]);
                case F16 -> outBytes.putShort(2 * i, HalfFloats.f32BitsToF16(f32Bits[i]));
                case BF16 -> outBytes.putShort(2 * i, HalfFloats.f32BitsToBf16(f32Bits[i]));
                case I32 -> throw new AssertionError("rejected above");
            }
        }
    }

    // ---- training ----

    @Override
    public void layerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx, boolean accumulate, Tensor dGamma,
                                  Tensor dBeta) {
        OpChecks.checkLayerNormBackward(DType.F32, x, gamma, eps, dy, dx, accumulate, dGamma, dBeta);
        if (OpChecks.rows(x) == 0) return;
        ReferenceMath.LayerNormGrads grads = ReferenceMath.layerNormBackward(doubles(x), (int) x.dim(-1), doubles(gamma), eps,
                doubles(dy));
        write(dx, grads.dx(), accumulate);
        if (dGamma != null) write(dGamma, grads.dGamma(), true);
        if (dBeta != null) write(dBeta, grads.dBeta(), true);
    }

    @Override
    public void activationBackward(Activation act, Tensor x, Tensor dy, Tensor dx) {
        OpChecks.checkUnaryBackward(DType.F32, "activationBackward", x, dy, dx);
        double[] xv = doubles(x), g = doubles(dy);
        for (int i = 0; i < g.length; i++) g[i] *= act.derivative(xv[i]);
        dx.copyFrom(toFloats(g));
    }

    @Override
    public void attentionPackedBackward(Tensor qkv, Tensor out, Tensor dOut, Tensor dQkv, int heads, boolean causal,
                                        Tensor keyMask) {
        int w = (int) OpChecks.attentionPackedBackward(DType.F32, qkv, out, dOut, dQkv, heads, keyMask);
        int b = (int) qkv.dim(0), len = (int) qkv.dim(1);
        double[] all = doubles(qkv);                                     // [B, L, 3·H·d]: q, k, v side by side
        double[][] parts = new double[3][b * len * w];                   // 3 × [B, L, H·d]
        for (int row = 0; row < b * len; row++) {
            for (int j = 0; j < 3; j++) System.arraycopy(all, row * 3 * w + j * w, parts[j], row * w, w);
        }
        ReferenceMath.AttentionGeometry g = new ReferenceMath.AttentionGeometry(b, len, len, heads, w / heads, causal,
                keyMask == null ? null : keyMask.toIntArray());
        ReferenceMath.AttentionGrads grads = ReferenceMath.attentionBackward(parts[0], parts[1], parts[2], doubles(out),
                doubles(dOut), g);
        double[] packed = new double[all.length];
        double[][] gradParts = {grads.dq(), grads.dk(), grads.dv()};
        for (int row = 0; row < b * len; row++) {
            for (int j = 0; j < 3; j++) System.arraycopy(gradParts[j], row * w, packed, row * 3 * w + j * w, w);
        }
        dQkv.copyFrom(toFloats(packed));
    }

    @Override
    public void l2NormalizeBackward(Tensor x, float eps, Tensor dy, Tensor dx) {
        OpChecks.checkUnaryBackward(DType.F32, "l2NormalizeBackward", x, dy, dx);
        if (OpChecks.rows(x) == 0) return;
        dx.copyFrom(toFloats(ReferenceMath.l2NormalizeBackward(doubles(x), (int) x.dim(-1), eps, doubles(dy))));
    }

    @Override
    public void dropout(Tensor x, float p, long seed, Tensor out) {
        OpChecks.checkDropout(DType.F32, x, p, out);
        float[] v = x.toFloatArray();
        double scale = ReferenceMath.dropoutScale(p);
        for (int i = 0; i < v.length; i++) v[i] = ReferenceMath.dropoutKeeps(seed, i, p) ? (float) (v[i] * scale) : 0f;
        out.copyFrom(v);
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, long step) {
        OpChecks.checkAdamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
        double[] p = doubles(param), g = doubles(grad), mv = doubles(m), vv = doubles(v);
        double biasCorrection1 = 1 - Math.pow(beta1, step), biasCorrection2 = 1 - Math.pow(beta2, step);
        for (int i = 0; i < p.length; i++) {
            p[i] *= 1 - (double) lr * weightDecay;                           // decoupled decay, before the Adam update
            mv[i] = beta1 * mv[i] + (1 - (double) beta1) * g[i];
            vv[i] = beta2 * vv[i] + (1 - (double) beta2) * g[i] * g[i];
            p[i] -= lr * (mv[i] / biasCorrection1) / (Math.sqrt(vv[i] / biasCorrection2) + eps);
        }
        param.copyFrom(toFloats(p));
        m.copyFrom(toFloats(mv));
        v.copyFrom(toFloats(vv));
    }

    @Override
    public double sumSquares(Tensor x) {
        OpChecks.checkSumSquares(DType.F32, x);
        double sum = 0;
        for (float f : x.toFloatArray()) sum += (double) f * f;
        return sum;
    }

    @Override
    public void scale(Tensor x, float alpha) {
        OpChecks.checkScale(DType.F32, x, alpha);
        float[] v = x.toFloatArray();
        for (int i = 0; i < v.length; i++) v[i] = (float) ((double) v[i] * alpha);
        x.copyFrom(v);
    }

    // ---- float <-> double ----

    private static double[] doubles(Tensor t) {
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    /** dst = values, or dst += values (summed in double, rounded once) when accumulating. */
    private static void write(Tensor dst, double[] values, boolean accumulate) {
        if (accumulate) {
            double[] old = doubles(dst);
            for (int i = 0; i < values.length; i++) values[i] += old[i];
        }
        dst.copyFrom(toFloats(values));
    }
}
