package io.vlm4j.backend;

import static io.vlm4j.backend.ConformanceSupport.check;
import static io.vlm4j.backend.ConformanceSupport.numel;
import static io.vlm4j.backend.ConformanceSupport.uniform;
import static io.vlm4j.backend.ConformanceSupport.upload;
import static io.vlm4j.backend.ConformanceSupport.uploadInts;
import static io.vlm4j.backend.ConformanceSupport.zeros;

import io.vlm4j.backend.ConformanceSupport.BackendCase;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.Tensor;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Op conformance, ggml test-backend-ops style: one test body per op, run on every backend under test and compared
 * with the float64 {@link ReferenceBackend} on seeded random inputs. This file holds the GEMM-shaped ops (matmul,
 * linear, patchEmbed) and attention; {@link OpConformanceRowOpsTest} the row-wise and elementwise ones. Shapes
 * include 1, odd sizes and non-multiples of the kernels' tile sizes.
 */
class OpConformanceTest {
    private static final String BACKENDS = "io.vlm4j.backend.ConformanceSupport#backends";

    @AfterAll
    static void printErrors() { ConformanceSupport.printObservedErrors(); }

    /** (M, N, K) */
    private static final long[][] MATMUL_SHAPES = {{1, 1, 1}, {7, 5, 3}, {77, 50, 64}, {197, 768, 96}, {1000, 33, 17}};

    /** Leading (batch) dimensions of a and out, and whether b is one rank-2 matrix shared by the whole batch. */
    private record Batching(long[] lead, boolean sharedB) {
        @Override
        public String toString() { return Arrays.toString(lead) + (sharedB ? " shared-B" : ""); }
    }

    private static final Batching[] BATCHINGS = {
        new Batching(new long[0], false), new Batching(new long[] {3}, false),
        new Batching(new long[] {3}, true), new Batching(new long[] {2, 3}, false)};

    private static long[] concat(long[] lead, long... tail) {
        long[] s = Arrays.copyOf(lead, lead.length + tail.length);
        System.arraycopy(tail, 0, s, lead.length, tail.length);
        return s;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void matmul(BackendCase bc) {
        Random rng = new Random(42);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (int si = 0; si < MATMUL_SHAPES.length; si++) {
                long m = MATMUL_SHAPES[si][0], n = MATMUL_SHAPES[si][1], k = MATMUL_SHAPES[si][2];
                for (int bi = 0; bi < BATCHINGS.length; bi++) {
                    Batching batching = BATCHINGS[bi];
                    for (int trans = 0; trans < 4; trans++) {
                        boolean transA = (trans & 1) != 0, transB = (trans & 2) != 0;
                        long[] aShape = concat(batching.lead(), transA ? new long[] {k, m} : new long[] {m, k});
                        long[] bTail = transB ? new long[] {n, k} : new long[] {k, n};
                        long[] bShape = batching.sharedB() ? bTail : concat(batching.lead(), bTail);
                        long[] outShape = concat(batching.lead(), m, n);
                        float[] a = uniform(rng, numel(aShape)), b = uniform(rng, numel(bShape));
                        float[] bias = uniform(rng, n), residual = uniform(rng, numel(outShape));
                        // Every epilogue (activation × bias × residual) unbatched; a rotating one per batched call.
                        for (int e = 0; e < 16; e++) {
                            if (bi > 0 && e != (trans * 5 + si + bi) % 16) continue;
                            Activation act = Activation.values()[e % 4];
                            boolean withBias = (e / 4) % 2 == 1, withResidual = e / 8 == 1;
                            String what = "M,N,K=" + m + "," + n + "," + k + " " + batching + " transA=" + transA
                                    + " transB=" + transB + " " + act + (withBias ? " +bias" : "") + (withResidual ? " +residual" : "");
                            check(bc, backend, ref, "matmul", what, (be, s) -> {
                                Tensor out = zeros(be, s, outShape);
                                be.matmul(upload(be, s, a, aShape), transA, upload(be, s, b, bShape), transB,
                                        withBias ? upload(be, s, bias, n) : null, act,
                                        withResidual ? upload(be, s, residual, outShape) : null, out);
                                return out;
                            });
                        }
                        if (bi == 0) {  // residual aliasing out, as the encoder's residual adds use it
                            check(bc, backend, ref, "matmul", "residual==out M,N,K=" + m + "," + n + "," + k, (be, s) -> {
                                Tensor out = upload(be, s, residual, outShape);
                                be.matmul(upload(be, s, a, aShape), transA, upload(be, s, b, bShape), transB,
                                        upload(be, s, bias, n), Activation.GELU, out, out);
                                return out;
                            });
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void linear(BackendCase bc) {
        // x lead dims, K, N
        Object[][] cases = {{new long[] {1}, 1L, 1L}, {new long[] {7}, 3L, 5L}, {new long[] {2, 77}, 512L, 512L},
            {new long[] {197}, 768L, 96L}, {new long[] {1000}, 33L, 17L}, {new long[] {3, 7}, 64L, 200L}};
        Random rng = new Random(7);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (int i = 0; i < cases.length; i++) {
                long[] lead = (long[]) cases[i][0];
                long k = (long) cases[i][1], n = (long) cases[i][2];
                long[] xShape = concat(lead, k), outShape = concat(lead, n);
                float[] x = uniform(rng, numel(xShape)), w = uniform(rng, n * k), bias = uniform(rng, n);
                float[] residual = uniform(rng, numel(outShape));
                for (int variant = 0; variant < 4; variant++) {
                    Activation act = Activation.values()[(i + variant) % 4];
                    boolean withBias = variant % 2 == 0, withResidual = variant >= 2;
                    String what = Arrays.toString(xShape) + "·[" + n + "," + k + "]ᵀ " + act
                            + (withBias ? " +bias" : "") + (withResidual ? " +residual" : "");
                    check(bc, backend, ref, "linear", what, (be, s) -> {
                        Tensor out = zeros(be, s, outShape);
                        be.linear(upload(be, s, x, xShape), upload(be, s, w, n, k), withBias ? upload(be, s, bias, n) : null,
                                act, withResidual ? upload(be, s, residual, outShape) : null, out);
                        return out;
                    });
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void patchEmbed(BackendCase bc) {
        // B, C, H, W, P, D: 37x50 with P=7 drops trailing pixels on both axes; 7x7 with P=7 is a single patch.
        long[][] cases = {{2, 3, 32, 32, 8, 16}, {1, 3, 224, 224, 16, 768}, {2, 3, 37, 50, 7, 10}, {1, 1, 4, 4, 2, 3},
            {2, 3, 7, 7, 7, 5}, {1, 3, 9, 17, 4, 33}};
        Random rng = new Random(11);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (int i = 0; i < cases.length; i++) {
                long b = cases[i][0], c = cases[i][1], h = cases[i][2], w = cases[i][3], p = cases[i][4], d = cases[i][5];
                long[] outShape = {b, (h / p) * (w / p), d};
                float[] pixels = uniform(rng, (int) (b * c * h * w), -2, 2);
                float[] weight = uniform(rng, d * c * p * p), bias = uniform(rng, d);
                for (boolean withBias : new boolean[] {false, true}) {
                    String what = "pixels " + Arrays.toString(cases[i]) + (withBias ? " +bias" : "");
                    check(bc, backend, ref, "patchEmbed", what, (be, s) -> {
                        Tensor out = zeros(be, s, outShape);
                        be.patchEmbed(upload(be, s, pixels, b, c, h, w), upload(be, s, weight, d, c, p, p),
                                withBias ? upload(be, s, bias, d) : null, out);
                        return out;
                    });
                }
            }
        }
    }

    /**
     * A key mask with about a quarter of the keys dropped and, when there is more than one sequence, the last
     * sequence fully masked (all its query rows must come out as zeros).
     */
    static int[] keyMask(Random rng, long batch, long lk) {
        int[] mask = new int[(int) (batch * lk)];
        for (int i = 0; i < mask.length; i++) mask[i] = rng.nextDouble() < 0.75 ? 1 : 0;
        mask[0] = 0;  // at least one dropped key even for B = Lk = 1
        if (batch > 1) Arrays.fill(mask, (int) ((batch - 1) * lk), mask.length, 0);
        return mask;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void attention(BackendCase bc) {
        // B, H, Lq, Lk, d. Lq < Lk causal shifts the diagonal; Lq > Lk causal leaves the first query rows empty.
        long[][] cases = {{1, 1, 1, 1, 1}, {2, 3, 7, 7, 5}, {2, 4, 17, 17, 16}, {1, 12, 197, 197, 64},
            {3, 8, 77, 77, 64}, {2, 2, 5, 9, 8}, {1, 3, 9, 4, 8}};
        Random rng = new Random(5);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] cs : cases) {
                long b = cs[0], heads = cs[1], lq = cs[2], lk = cs[3], d = cs[4];
                long width = heads * d;
                float[] q = uniform(rng, (int) (b * lq * width), -3, 3);  // large enough for peaked softmax rows
                float[] k = uniform(rng, (int) (b * lk * width), -3, 3);
                float[] v = uniform(rng, b * lk * width);
                int[] mask = keyMask(rng, b, lk);
                for (boolean causal : new boolean[] {false, true}) {
                    for (boolean masked : new boolean[] {false, true}) {
                        String what = "B,H,Lq,Lk,d=" + Arrays.toString(cs) + (causal ? " causal" : "") + (masked ? " keyMask" : "");
                        check(bc, backend, ref, "attention", what, (be, s) -> {
                            Tensor out = zeros(be, s, b, lq, width);
                            be.attention(upload(be, s, q, b, lq, width), upload(be, s, k, b, lk, width),
                                    upload(be, s, v, b, lk, width), out, (int) heads, causal,
                                    masked ? uploadInts(be, s, mask, b, lk) : null);
                            return out;
                        });
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void attentionPacked(BackendCase bc) {
        long[][] cases = {{1, 1, 1, 1}, {2, 7, 3, 5}, {2, 17, 4, 16}, {1, 197, 12, 64}, {3, 77, 8, 64}};  // B, L, H, d
        Random rng = new Random(6);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] cs : cases) {
                long b = cs[0], len = cs[1], heads = cs[2], width = heads * cs[3];
                float[] qkv = uniform(rng, (int) (b * len * 3 * width), -3, 3);
                int[] mask = keyMask(rng, b, len);
                for (boolean causal : new boolean[] {false, true}) {
                    for (boolean masked : new boolean[] {false, true}) {
                        String what = "B,L,H,d=" + Arrays.toString(cs) + (causal ? " causal" : "") + (masked ? " keyMask" : "");
                        check(bc, backend, ref, "attentionPacked", what, (be, s) -> {
                            Tensor out = zeros(be, s, b, len, width);
                            be.attentionPacked(upload(be, s, qkv, b, len, 3 * width), out, (int) heads, causal,
                                    masked ? uploadInts(be, s, mask, b, len) : null);
                            return out;
                        });
                    }
                }
            }
        }
    }
}
