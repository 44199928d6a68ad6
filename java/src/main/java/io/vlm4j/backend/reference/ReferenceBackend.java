package io.vlm4j.backend.reference;


import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.OptionalInt;

/**
 * The float64 reference backend: the oracle of every conformance test. Each op copies its inputs to Java arrays,
 * computes in double with the plainest loops that follow the definition (spec 00 conventions, spec 01 §3), and
 * writes float results back. It is slow on purpose; clarity beats speed here.
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
        long dim = x.dim(-1);
        int rows = (int) OpChecks.rows(x), n = (int) dim;
        float[] xv = x.toFloatArray(), g = gamma.toFloatArray(), be = beta.toFloatArray();
        float[] outv = new float[xv.length];
        for (int r = 0; r < rows; r++) {
            int base = r * n;
            double mean = 0;
            for (int i = 0; i < n; i++) mean += xv[base + i];
            mean /= n;
            double variance = 0;                                         // biased (population) variance
            for (int i = 0; i < n; i++) {
                double centered = xv[base + i] - mean;
                variance += centered * centered;
            }
            variance /= n;
            double invStd = 1.0 / Math.sqrt(variance + eps);             // eps inside the square root (spec 00)
            for (int i = 0; i < n; i++) {
                outv[base + i] = (float) ((xv[base + i] - mean) * invStd * g[i] + be[i]);
            }
        }
        out.copyFrom(outv);
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
            softmaxRow(row, n, probs);
            for (int i = 0; i < n; i++) outv[r * n + i] = (float) probs[i];
        }
        out.copyFrom(outv);
    }

    /**
     * probs[0..n) = softmax(logits[0..n)). The maximum is subtracted first so that exp never overflows; a row whose
     * entries are all -inf (nothing visible) gives zeros instead of the NaNs of 0/0.
     */
    static void softmaxRow(double[] logits, int n, double[] probs) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[i]);
        if (max == Double.NEGATIVE_INFINITY) {
            Arrays.fill(probs, 0, n, 0.0);
            return;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp(logits[i] - max);                        // exp(-inf) = 0 for masked entries
            sum += probs[i];
        }
        for (int i = 0; i < n; i++) probs[i] /= sum;
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
        int rows = (int) OpChecks.rows(x), n = rows == 0 ? 0 : (int) x.dim(-1);
        float[] xv = x.toFloatArray();
        float[] outv = new float[xv.length];
        for (int r = 0; r < rows; r++) {
            double sumSq = 0;
            for (int i = 0; i < n; i++) sumSq += (double) xv[r * n + i] * xv[r * n + i];
            double divisor = Math.max(Math.sqrt(sumSq), eps);            // F.normalize: x / max(‖x‖, eps)
            for (int i = 0; i < n; i++) outv[r * n + i] = (float) (xv[r * n + i] / divisor);
        }
        out.copyFrom(outv);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, boolean causal, Tensor keyMask) {
        OpChecks.AttentionShape s = OpChecks.attention(q, k, v, out, heads, keyMask);
        int batch = (int) s.batch(), lq = (int) s.lq(), lk = (int) s.lk(), d = (int) s.headDim();
        int width = heads * d;
        float[] qv = q.toFloatArray(), kv = k.toFloatArray(), vv = v.toFloatArray();  // [B, L, H·d]
        int[] mask = keyMask == null ? null : keyMask.toIntArray();                    // [B, Lk]
        float[] outv = new float[qv.length];                                           // [B, Lq, H·d]
        double scale = 1.0 / Math.sqrt(d);
        double[][] scores = new double[lq][lk];
        double[] probs = new double[lk];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int col = h * d;                                          // head h owns channels [h·d, (h+1)·d)
                for (int i = 0; i < lq; i++) {
                    for (int j = 0; j < lk; j++) {
                        boolean visible = (!causal || j <= i + (lk - lq)) && (mask == null || mask[b * lk + j] != 0);
                        if (!visible) {
                            scores[i][j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int t = 0; t < d; t++) {
                            dot += (double) qv[(b * lq + i) * width + col + t] * kv[(b * lk + j) * width + col + t];
                        }
                        scores[i][j] = dot * scale;
                    }
                }
                for (int i = 0; i < lq; i++) {
                    softmaxRow(scores[i], lk, probs);                     // no visible key: all zeros
                    for (int t = 0; t < d; t++) {
                        double sum = 0;
                        for (int j = 0; j < lk; j++) sum += probs[j] * vv[(b * lk + j) * width + col + t];
                        outv[(b * lq + i) * width + col + t] = (float) sum;
                    }
                }
            }
        }
        out.copyFrom(outv);
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
}
