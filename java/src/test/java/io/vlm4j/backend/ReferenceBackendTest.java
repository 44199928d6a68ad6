package io.vlm4j.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.reference.HalfFloats;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The oracle checked against values worked out by hand (or quoted from spec 00), independent of any backend. */
class ReferenceBackendTest {
    private final ReferenceBackend ref = new ReferenceBackend();
    private final TensorScope scope = new TensorScope();

    @AfterEach
    void freeTensors() { scope.close(); }

    private Tensor of(float[] v, long... shape) { return scope.track(Tensor.of(v, shape)); }

    private Tensor ints(int[] v, long... shape) { return scope.track(Tensor.ofInts(v, shape)); }

    private Tensor zeros(long... shape) { return scope.f32(shape); }

    private static void assertValues(float[] expected, Tensor actual, double tol) {
        float[] got = actual.toFloatArray();
        assertEquals(expected.length, got.length);
        for (int i = 0; i < got.length; i++) {
            assertEquals(expected[i], got[i], tol, "element " + i);
        }
    }

    @Test
    void activationsMatchTheSpecReferenceValues() {
        float[] x = {-3, -1, -0.5f, 0.5f, 1, 3};
        double[][] expected = {
            {-0.004050, -0.158655, -0.154269, 0.345731, 0.841345, 2.995950},   // gelu
            {-0.018071, -0.154204, -0.149612, 0.350388, 0.845796, 2.981929},   // quick_gelu
            {-0.003637, -0.158808, -0.154286, 0.345714, 0.841192, 2.996363}};  // gelu_tanh
        Activation[] acts = {Activation.GELU, Activation.QUICK_GELU, Activation.GELU_TANH};
        for (int a = 0; a < acts.length; a++) {
            Tensor out = zeros(6);
            ref.activation(acts[a], of(x, 6), out);
            float[] got = out.toFloatArray();
            for (int i = 0; i < x.length; i++) {
                // spec values are rounded to 6 decimals (±5e-7), the float result adds at most 2.4e-7
                assertEquals(expected[a][i], got[i], 1e-6, acts[a] + "(" + x[i] + ")");
                assertEquals(expected[a][i], acts[a].apply(x[i]), 5.1e-7, acts[a] + ".apply(" + x[i] + ")");
            }
        }
        Tensor identity = zeros(6);
        ref.activation(Activation.NONE, of(x, 6), identity);
        assertArrayEquals(x, identity.toFloatArray());
    }

    @Test
    void matmulTwoByThreeTimesThreeByTwo() {
        float[] a = {1, 2, 3, 4, 5, 6};          // [[1,2,3],[4,5,6]]
        float[] b = {7, 8, 9, 10, 11, 12};       // [[7,8],[9,10],[11,12]]
        float[] product = {58, 64, 139, 154};    // 1·7+2·9+3·11 = 58, 1·8+2·10+3·12 = 64, 4·7+5·9+6·11 = 139, 4·8+5·10+6·12 = 154
        Tensor out = zeros(2, 2);
        ref.matmul(of(a, 2, 3), false, of(b, 3, 2), false, null, Activation.NONE, null, out);
        assertValues(product, out, 0);
        // the same product from stored transposes: aᵀ = [[1,4],[2,5],[3,6]], bᵀ = [[7,9,11],[8,10,12]]
        ref.matmul(of(new float[] {1, 4, 2, 5, 3, 6}, 3, 2), true, of(new float[] {7, 9, 11, 8, 10, 12}, 2, 3), true,
                null, Activation.NONE, null, out);
        assertValues(product, out, 0);
        // epilogue order: act(product + bias) + residual; with bias [1, -1] and residual [0.5, 0, 0, -0.5]
        Tensor residual = of(new float[] {0.5f, 0, 0, -0.5f}, 2, 2);
        ref.matmul(of(a, 2, 3), false, of(b, 3, 2), false, of(new float[] {1, -1}, 2), Activation.NONE, residual, out);
        assertValues(new float[] {59.5f, 63, 140, 152.5f}, out, 0);
        // batched with a shared B: the second batch entry is 2·a, so its product doubles
        Tensor batched = zeros(2, 2, 2);
        ref.matmul(of(new float[] {1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12}, 2, 2, 3), false, of(b, 3, 2), false,
                null, Activation.NONE, null, batched);
        assertValues(new float[] {58, 64, 139, 154, 116, 128, 278, 308}, batched, 0);
    }

    @Test
    void layerNormOfOneToFour() {
        // mean 2.5, biased variance (2.25+0.25+0.25+2.25)/4 = 1.25, y = (x-2.5)/sqrt(1.25+1e-5)
        Tensor x = of(new float[] {1, 2, 3, 4}, 1, 4), out = zeros(1, 4);
        ref.layerNorm(x, of(new float[] {1, 1, 1, 1}, 4), of(new float[4], 4), 1e-5f, out);
        assertValues(new float[] {-1.34163542f, -0.44721181f, 0.44721181f, 1.34163542f}, out, 1e-6);
        // gamma [1,-1,2,0.5], beta [0,1,-2,0.25], in place
        ref.layerNorm(x, of(new float[] {1, -1, 2, 0.5f}, 4), of(new float[] {0, 1, -2, 0.25f}, 4), 1e-5f, x);
        assertValues(new float[] {-1.34163542f, 1.44721181f, -1.10557639f, 0.92081771f}, x, 1e-6);
    }

    @Test
    void softmaxRows() {
        float inf = Float.POSITIVE_INFINITY;
        Tensor x = of(new float[] {1, 2, 3, -inf, 0, -inf, -inf, -inf, -inf, 1000, 1000, -inf}, 4, 3);
        ref.softmax(x, x);  // in place
        assertValues(new float[] {0.09003057f, 0.24472847f, 0.66524096f,
            0, 1, 0,                 // masked entries get exactly 0
            0, 0, 0,                 // a fully masked row gives zeros, not NaN
            0.5f, 0.5f, 0}, x, 1e-7); // large logits do not overflow
    }

    @Test
    void causalAttentionTwoByTwo() {
        // d = 2, scale 1/√2. q0 = [1,0], q1 = [0,1]; k0 = [1,0], k1 = [1,1]; v0 = [1,2], v1 = [3,4].
        // Query 0 sees only key 0 -> v0. Query 1: scores [0, 1/√2], p1 = σ(1/√2) = 0.66976155 -> v0 + 2·p1·[1,1].
        Tensor q = of(new float[] {1, 0, 0, 1}, 1, 2, 2), k = of(new float[] {1, 0, 1, 1}, 1, 2, 2);
        Tensor v = of(new float[] {1, 2, 3, 4}, 1, 2, 2), out = zeros(1, 2, 2);
        ref.attention(q, k, v, out, 1, true, null);
        assertValues(new float[] {1, 2, 2.33952310f, 3.33952310f}, out, 1e-6);
        // without the causal mask query 0 sees both keys: scores [1/√2, 1/√2] -> the mean of v0 and v1
        ref.attention(q, k, v, out, 1, false, null);
        assertValues(new float[] {2, 3, 2.33952310f, 3.33952310f}, out, 1e-6);
        // key 0 masked: query 0 sees nothing (zeros), query 1 sees only key 1
        ref.attention(q, k, v, out, 1, true, ints(new int[] {0, 1}, 1, 2));
        assertValues(new float[] {0, 0, 3, 4}, out, 0);
        // Lq = 1 < Lk = 2, causal: the single query is the last position and sees j <= 0 + (2 - 1), both keys
        Tensor lastQuery = zeros(1, 1, 2);
        ref.attention(of(new float[] {0, 1}, 1, 1, 2), k, v, lastQuery, 1, true, null);
        assertValues(new float[] {2.33952310f, 3.33952310f}, lastQuery, 1e-6);
    }

    @Test
    void eosPoolBothPaths() {
        int[] ids = {5, 9, 2, 9, 2, 7, 7, 0};            // [2, 4]
        float[] hidden = new float[2 * 4 * 2];           // hidden[b, t, :] = [10b + t, -(10b + t)]
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < 4; t++) {
                hidden[(b * 4 + t) * 2] = 10 * b + t;
                hidden[(b * 4 + t) * 2 + 1] = -(10 * b + t);
            }
        }
        Tensor h = of(hidden, 2, 4, 2), id = ints(ids, 2, 4), out = zeros(2, 2);
        // argmax, first maximum wins: row 0 max 9 at 1 (and 3), row 1 max 7 at 1 (and 2)
        assertArrayEquals(new long[] {1, 1}, ref.eosPool(h, id, OptionalInt.empty(), out));
        assertValues(new float[] {1, -1, 11, -11}, out, 0);
        // first position equal to the EOS id 2: row 0 at 2, row 1 at 0
        assertArrayEquals(new long[] {2, 0}, ref.eosPool(h, id, OptionalInt.of(2), out));
        assertValues(new float[] {2, -2, 10, -10}, out, 0);
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> ref.eosPool(h, id, OptionalInt.of(5), out));
        assertTrue(missing.getMessage().contains("row 1"), missing.getMessage());
    }

    @Test
    void patchEmbedConvOnFourByFourImage() {
        float[] pixels = new float[16];                  // [1, 1, 4, 4], pixel (y, x) = 4y + x
        for (int i = 0; i < 16; i++) pixels[i] = i;
        // kernel 0 picks the top-left pixel of a patch, kernel 1 sums it; bias [0, 0.5]
        float[] weight = {1, 0, 0, 0, 1, 1, 1, 1};       // [2, 1, 2, 2]
        Tensor out = zeros(1, 4, 2);
        ref.patchEmbed(of(pixels, 1, 1, 4, 4), of(weight, 2, 1, 2, 2), of(new float[] {0, 0.5f}, 2), out);
        // tokens row-major over the 2x2 grid: patches {0,1,4,5}, {2,3,6,7}, {8,9,12,13}, {10,11,14,15}
        assertValues(new float[] {0, 10.5f, 2, 18.5f, 8, 42.5f, 10, 50.5f}, out, 0);
    }

    @Test
    void l2NormalizeAndGather() {
        Tensor x = of(new float[] {3, 4, 0, 0}, 2, 2);
        ref.l2Normalize(x, 1e-12f, x);
        assertValues(new float[] {0.6f, 0.8f, 0, 0}, x, 1e-7);  // the zero row is divided by eps and stays zero
        Tensor table = of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2), rows = zeros(2, 2);
        ref.gather(table, ints(new int[] {2, 0}, 2), rows);
        assertValues(new float[] {5, 6, 1, 2}, rows, 0);
        assertThrows(IllegalArgumentException.class, () -> ref.gather(table, ints(new int[] {0, 3}, 2), rows));
        assertThrows(IllegalArgumentException.class, () -> ref.gather(table, ints(new int[] {-1, 0}, 2), rows));
    }

    /** F32 values and their F16 bits, round to nearest even. */
    private static final Object[][] F16_CASES = {
        {1f, 0x3c00}, {-2f, 0xc000}, {0f, 0x0000}, {-0f, 0x8000}, {65504f, 0x7bff},
        {65519.996f, 0x7bff},                 // just below the midpoint to 65536: stays at the largest finite
        {65520f, 0x7c00},                     // the midpoint: ties to even, which is Inf
        {0x1p-24f, 0x0001},                   // smallest subnormal
        {0x1p-25f, 0x0000},                   // half of it: tie to even (0)
        {3 * 0x1p-25f, 0x0002},               // 1.5 units: tie to even (2)
        {0x1p-25f * 1.0001f, 0x0001},         // just above half a unit
        {1023 * 0x1p-24f, 0x03ff},            // largest subnormal
        {0x1p-14f, 0x0400},                   // smallest normal
        {1 + 0x1p-11f, 0x3c00},               // tie between 0x3c00 and 0x3c01: even
        {1 + 3 * 0x1p-11f, 0x3c02},           // tie between 0x3c01 and 0x3c02: even
        {Float.POSITIVE_INFINITY, 0x7c00}, {Float.NEGATIVE_INFINITY, 0xfc00}, {Float.MAX_VALUE, 0x7c00},
        {Float.MIN_VALUE, 0x0000}, {Float.NaN, 0x7e00}};

    /** F32 values and their BF16 bits, round to nearest even. */
    private static final Object[][] BF16_CASES = {
        {1f, 0x3f80}, {-2f, 0xc000}, {-0f, 0x8000}, {1 + 0x1p-8f, 0x3f80}, {1 + 3 * 0x1p-8f, 0x3f82},
        {1 + 0x1p-8f + 0x1p-20f, 0x3f81},    // above the tie rounds up
        {Float.MAX_VALUE, 0x7f80},            // rounds past the largest finite BF16 to Inf
        {Float.intBitsToFloat(0x00010000), 0x0001}, {Float.intBitsToFloat(0x00008000), 0x0000},
        {Float.intBitsToFloat(0x00018000), 0x0002}, {Float.POSITIVE_INFINITY, 0x7f80}, {Float.NaN, 0x7fc0},
        {Float.intBitsToFloat(0x7f800001), 0x7fc0}};  // a signalling NaN comes out quiet, not as Inf

    @Test
    void halfPrecisionConversionsOfKnownBitPatterns() {
        checkConversions(DType.F16, F16_CASES);
        checkConversions(DType.BF16, BF16_CASES);
        // widening is exact, subnormals and NaN included
        assertEquals(0x1p-24f, HalfFloats.f16ToFloat((short) 0x0001));
        assertEquals(1023 * 0x1p-24f, HalfFloats.f16ToFloat((short) 0x03ff));
        assertEquals(-65504f, HalfFloats.f16ToFloat((short) 0xfbff));
        assertEquals(0x7fc02000, HalfFloats.f16ToF32Bits((short) 0x7c01));  // signalling F16 NaN -> quiet F32 NaN
        assertEquals(0xff800000, HalfFloats.f16ToF32Bits((short) 0xfc00));
    }

    private void checkConversions(DType half, Object[][] cases) {
        int n = cases.length;
        ByteBuffer f32Bytes = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (Object[] c : cases) f32Bytes.putInt(Float.floatToRawIntBits((Float) c[0]));
        f32Bytes.flip();
        Tensor src = scope.f32(n), halves = scope.allocate(half, n), back = scope.f32(n);
        src.copyFrom(f32Bytes);
        ref.convert(src, halves);
        ref.convert(halves, back);
        ByteBuffer hb = halves.asByteBuffer(), bb = back.asByteBuffer();
        for (int i = 0; i < n; i++) {
            float value = (Float) cases[i][0];
            int expected = (Integer) cases[i][1];
            assertEquals(expected, hb.getShort(2 * i) & 0xffff, half + " of " + value);
            // widening back is exact: the F32 value of the expected bits
            int backBits = half == DType.F16 ? HalfFloats.f16ToF32Bits((short) expected) : HalfFloats.bf16ToF32Bits((short) expected);
            assertEquals(backBits, bb.getInt(4 * i), half + " -> F32 of " + value);
        }
    }
}
