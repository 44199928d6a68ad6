package io.vlm4j.backend;

import static io.vlm4j.backend.ConformanceSupport.upload;
import static io.vlm4j.backend.ConformanceSupport.uploadInts;
import static io.vlm4j.backend.ConformanceSupport.zeros;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vlm4j.backend.ConformanceSupport.BackendCase;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.NativeMemory;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every backend, the reference included, must refuse: bad shapes, dtypes and closed tensors raise
 * {@link IllegalArgumentException} (table-driven); bad data (an id outside the table, a sequence without EOS)
 * raises an exception instead of crashing the JVM; and repeated use returns all native memory.
 */
class OpConformanceRejectionTest {

    /** One bad call: a name for the report and the call itself, given a backend and a scope for its tensors. */
    private record BadCall(String name, BiConsumer<Backend, TensorScope> call) {
        @Override
        public String toString() { return name; }
    }

    private static Tensor f32(Backend be, TensorScope s, long... shape) { return zeros(be, s, shape); }

    private static Tensor typed(Backend be, TensorScope s, DType dtype, long... shape) {
        return s.track(be.allocate(dtype, shape));
    }

    private static Tensor closed(Backend be, TensorScope s, long... shape) {
        Tensor t = f32(be, s, shape);
        t.close();
        return t;
    }

    private static BadCall bad(String name, BiConsumer<Backend, TensorScope> call) { return new BadCall(name, call); }

    private static final Activation NO = Activation.NONE;

    private static final List<BadCall> BAD_CALLS = List.of(
        // matmul
        bad("matmul inner dims differ", (b, s) -> b.matmul(f32(b, s, 2, 3), false, f32(b, s, 4, 2), false, null, NO, null, f32(b, s, 2, 2))),
        bad("matmul transposed inner dims differ", (b, s) -> b.matmul(f32(b, s, 2, 3), true, f32(b, s, 3, 2), false, null, NO, null, f32(b, s, 3, 2))),
        bad("matmul a rank 1", (b, s) -> b.matmul(f32(b, s, 3), false, f32(b, s, 3, 2), false, null, NO, null, f32(b, s, 1, 2))),
        bad("matmul b rank 3 vs a rank 4", (b, s) -> b.matmul(f32(b, s, 2, 2, 2, 3), false, f32(b, s, 2, 3, 2), false, null, NO, null, f32(b, s, 2, 2, 2, 2))),
        bad("matmul batch dims differ", (b, s) -> b.matmul(f32(b, s, 2, 2, 3), false, f32(b, s, 3, 3, 2), false, null, NO, null, f32(b, s, 2, 2, 2))),
        bad("matmul out shape", (b, s) -> b.matmul(f32(b, s, 2, 3), false, f32(b, s, 3, 2), false, null, NO, null, f32(b, s, 2, 3))),
        bad("matmul b F16", (b, s) -> b.matmul(f32(b, s, 2, 3), false, typed(b, s, DType.F16, 3, 2), false, null, NO, null, f32(b, s, 2, 2))),
        bad("matmul bias shape", (b, s) -> b.matmul(f32(b, s, 2, 3), false, f32(b, s, 3, 2), false, f32(b, s, 3), NO, null, f32(b, s, 2, 2))),
        bad("matmul residual shape", (b, s) -> b.matmul(f32(b, s, 2, 3), false, f32(b, s, 3, 2), false, null, NO, f32(b, s, 2, 3), f32(b, s, 2, 2))),
        bad("matmul a closed", (b, s) -> b.matmul(closed(b, s, 2, 3), false, f32(b, s, 3, 2), false, null, NO, null, f32(b, s, 2, 2))),
        bad("matmul out closed", (b, s) -> b.matmul(f32(b, s, 2, 3), false, f32(b, s, 3, 2), false, null, NO, null, closed(b, s, 2, 2))),
        // linear
        bad("linear weight K differs", (b, s) -> b.linear(f32(b, s, 4, 3), f32(b, s, 5, 2), null, NO, null, f32(b, s, 4, 5))),
        bad("linear out shape", (b, s) -> b.linear(f32(b, s, 4, 3), f32(b, s, 5, 3), null, NO, null, f32(b, s, 4, 3))),
        // patchEmbed
        bad("patchEmbed pixels rank 3", (b, s) -> b.patchEmbed(f32(b, s, 3, 8, 8), f32(b, s, 4, 3, 4, 4), null, f32(b, s, 1, 4, 4))),
        bad("patchEmbed channels differ", (b, s) -> b.patchEmbed(f32(b, s, 1, 3, 8, 8), f32(b, s, 4, 1, 4, 4), null, f32(b, s, 1, 4, 4))),
        bad("patchEmbed non-square kernel", (b, s) -> b.patchEmbed(f32(b, s, 1, 3, 8, 8), f32(b, s, 4, 3, 4, 2), null, f32(b, s, 1, 4, 4))),
        bad("patchEmbed image smaller than patch", (b, s) -> b.patchEmbed(f32(b, s, 1, 3, 3, 8), f32(b, s, 4, 3, 4, 4), null, f32(b, s, 1, 0, 4))),
        bad("patchEmbed out tokens", (b, s) -> b.patchEmbed(f32(b, s, 1, 3, 8, 8), f32(b, s, 4, 3, 4, 4), null, f32(b, s, 1, 3, 4))),
        bad("patchEmbed bias shape", (b, s) -> b.patchEmbed(f32(b, s, 1, 3, 8, 8), f32(b, s, 4, 3, 4, 4), f32(b, s, 3), f32(b, s, 1, 4, 4))),
        bad("patchEmbed weight closed", (b, s) -> b.patchEmbed(f32(b, s, 1, 3, 8, 8), closed(b, s, 4, 3, 4, 4), null, f32(b, s, 1, 4, 4))),
        // layerNorm
        bad("layerNorm gamma shape", (b, s) -> b.layerNorm(f32(b, s, 2, 4), f32(b, s, 3), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4))),
        bad("layerNorm beta shape", (b, s) -> b.layerNorm(f32(b, s, 2, 4), f32(b, s, 4), f32(b, s, 2, 4), 1e-5f, f32(b, s, 2, 4))),
        bad("layerNorm out shape", (b, s) -> b.layerNorm(f32(b, s, 2, 4), f32(b, s, 4), f32(b, s, 4), 1e-5f, f32(b, s, 4, 2))),
        bad("layerNorm eps 0", (b, s) -> b.layerNorm(f32(b, s, 2, 4), f32(b, s, 4), f32(b, s, 4), 0f, f32(b, s, 2, 4))),
        bad("layerNorm eps NaN", (b, s) -> b.layerNorm(f32(b, s, 2, 4), f32(b, s, 4), f32(b, s, 4), Float.NaN, f32(b, s, 2, 4))),
        bad("layerNorm x I32", (b, s) -> b.layerNorm(typed(b, s, DType.I32, 2, 4), f32(b, s, 4), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4))),
        bad("layerNorm x closed", (b, s) -> b.layerNorm(closed(b, s, 2, 4), f32(b, s, 4), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4))),
        // softmax, activation, add, addBroadcast, l2Normalize
        bad("softmax out shape", (b, s) -> b.softmax(f32(b, s, 2, 4), f32(b, s, 2, 5))),
        bad("softmax x BF16", (b, s) -> b.softmax(typed(b, s, DType.BF16, 2, 4), f32(b, s, 2, 4))),
        bad("softmax x closed", (b, s) -> b.softmax(closed(b, s, 2, 4), f32(b, s, 2, 4))),
        bad("activation out shape", (b, s) -> b.activation(Activation.GELU, f32(b, s, 8), f32(b, s, 7))),
        bad("activation x F16", (b, s) -> b.activation(Activation.GELU, typed(b, s, DType.F16, 8), f32(b, s, 8))),
        bad("activation out closed", (b, s) -> b.activation(Activation.GELU, f32(b, s, 8), closed(b, s, 8))),
        bad("add b shape", (b, s) -> b.add(f32(b, s, 2, 3), f32(b, s, 3, 2), f32(b, s, 2, 3))),
        bad("add out shape", (b, s) -> b.add(f32(b, s, 6), f32(b, s, 6), f32(b, s, 2, 3))),
        bad("add b I32", (b, s) -> b.add(f32(b, s, 6), typed(b, s, DType.I32, 6), f32(b, s, 6))),
        bad("addBroadcast not a suffix", (b, s) -> b.addBroadcast(f32(b, s, 4, 3), f32(b, s, 4))),
        bad("addBroadcast suffix longer", (b, s) -> b.addBroadcast(f32(b, s, 3), f32(b, s, 2, 3))),
        bad("addBroadcast suffix closed", (b, s) -> b.addBroadcast(f32(b, s, 4, 3), closed(b, s, 3))),
        bad("l2Normalize out shape", (b, s) -> b.l2Normalize(f32(b, s, 2, 4), 1e-12f, f32(b, s, 8))),
        bad("l2Normalize x closed", (b, s) -> b.l2Normalize(closed(b, s, 2, 4), 1e-12f, f32(b, s, 2, 4))),
        // attention
        bad("attention width not divisible by heads", (b, s) -> b.attention(f32(b, s, 1, 2, 10), f32(b, s, 1, 2, 10), f32(b, s, 1, 2, 10), f32(b, s, 1, 2, 10), 3, false, null)),
        bad("attention heads 0", (b, s) -> b.attention(f32(b, s, 1, 2, 8), f32(b, s, 1, 2, 8), f32(b, s, 1, 2, 8), f32(b, s, 1, 2, 8), 0, false, null)),
        bad("attention q rank 2", (b, s) -> b.attention(f32(b, s, 2, 8), f32(b, s, 1, 2, 8), f32(b, s, 1, 2, 8), f32(b, s, 2, 8), 2, false, null)),
        bad("attention k batch differs", (b, s) -> b.attention(f32(b, s, 2, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 2, 3, 8), 2, false, null)),
        bad("attention v length differs", (b, s) -> b.attention(f32(b, s, 1, 3, 8), f32(b, s, 1, 4, 8), f32(b, s, 1, 5, 8), f32(b, s, 1, 3, 8), 2, false, null)),
        bad("attention out shape", (b, s) -> b.attention(f32(b, s, 1, 3, 8), f32(b, s, 1, 4, 8), f32(b, s, 1, 4, 8), f32(b, s, 1, 4, 8), 2, false, null)),
        bad("attention keyMask F32", (b, s) -> b.attention(f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), 2, true, f32(b, s, 1, 3))),
        bad("attention keyMask shape", (b, s) -> b.attention(f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), 2, true, typed(b, s, DType.I32, 1, 4))),
        bad("attention v closed", (b, s) -> b.attention(f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), closed(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), 2, false, null)),
        bad("attentionPacked last dim not 3·width", (b, s) -> b.attentionPacked(f32(b, s, 1, 3, 10), f32(b, s, 1, 3, 3), 1, false, null)),
        bad("attentionPacked out shape", (b, s) -> b.attentionPacked(f32(b, s, 1, 3, 24), f32(b, s, 1, 3, 24), 2, false, null)),
        bad("attentionPacked qkv closed", (b, s) -> b.attentionPacked(closed(b, s, 1, 3, 24), f32(b, s, 1, 3, 8), 2, false, null)),
        // gather, eosPool
        bad("gather ids F32", (b, s) -> b.gather(f32(b, s, 10, 4), f32(b, s, 3), f32(b, s, 3, 4))),
        bad("gather table rank 3", (b, s) -> b.gather(f32(b, s, 2, 10, 4), typed(b, s, DType.I32, 3), f32(b, s, 3, 4))),
        bad("gather out size", (b, s) -> b.gather(f32(b, s, 10, 4), typed(b, s, DType.I32, 3), f32(b, s, 4, 4))),
        bad("gather table closed", (b, s) -> b.gather(closed(b, s, 10, 4), typed(b, s, DType.I32, 3), f32(b, s, 3, 4))),
        bad("eosPool ids shape", (b, s) -> b.eosPool(f32(b, s, 2, 5, 4), typed(b, s, DType.I32, 2, 4), OptionalInt.empty(), f32(b, s, 2, 4))),
        bad("eosPool ids F32", (b, s) -> b.eosPool(f32(b, s, 2, 5, 4), f32(b, s, 2, 5), OptionalInt.empty(), f32(b, s, 2, 4))),
        bad("eosPool out shape", (b, s) -> b.eosPool(f32(b, s, 2, 5, 4), typed(b, s, DType.I32, 2, 5), OptionalInt.empty(), f32(b, s, 2, 5))),
        bad("eosPool empty sequences", (b, s) -> b.eosPool(f32(b, s, 2, 0, 4), typed(b, s, DType.I32, 2, 0), OptionalInt.empty(), f32(b, s, 2, 4))),
        bad("eosPool hidden closed", (b, s) -> b.eosPool(closed(b, s, 2, 5, 4), typed(b, s, DType.I32, 2, 5), OptionalInt.empty(), f32(b, s, 2, 4))),
        bad("eosPool negative eos id", (b, s) -> b.eosPool(f32(b, s, 2, 5, 4), typed(b, s, DType.I32, 2, 5), OptionalInt.of(-3), f32(b, s, 2, 4))),
        // convert
        bad("convert counts differ", (b, s) -> b.convert(f32(b, s, 6), typed(b, s, DType.F16, 5))),
        bad("convert F32 to I32", (b, s) -> b.convert(f32(b, s, 6), typed(b, s, DType.I32, 6))),
        bad("convert I32 to BF16", (b, s) -> b.convert(typed(b, s, DType.I32, 6), typed(b, s, DType.BF16, 6))),
        bad("convert src closed", (b, s) -> b.convert(closed(b, s, 6), typed(b, s, DType.F16, 6))));

    static Stream<Arguments> badCallsOnEveryBackend() {
        return ConformanceSupport.backendsAndReference().flatMap(bc -> BAD_CALLS.stream().map(call -> Arguments.of(bc, call)));
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("badCallsOnEveryBackend")
    void rejectsBadArguments(BackendCase bc, BadCall badCall) {
        try (Backend backend = bc.open(); TensorScope scope = new TensorScope()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> badCall.call().accept(backend, scope),
                    bc.name() + " accepted: " + badCall.name());
            if (e.getMessage() == null || e.getMessage().isBlank()) throw new AssertionError(badCall.name() + ": no message");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.vlm4j.backend.ConformanceSupport#backendsAndReference")
    void badDataThrowsInsteadOfCrashing(BackendCase bc) {
        try (Backend backend = bc.open(); TensorScope s = new TensorScope()) {
            Tensor table = upload(backend, s, new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
            for (int badId : new int[] {3, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
                Tensor ids = uploadInts(backend, s, new int[] {0, badId, 2}, 3);
                assertThrows(IllegalArgumentException.class, () -> backend.gather(table, ids, f32(backend, s, 3, 2)), "id " + badId);
            }
            Tensor hidden = upload(backend, s, new float[2 * 3 * 2], 2, 3, 2);
            Tensor ids = uploadInts(backend, s, new int[] {5, 7, 0, 1, 2, 3}, 2, 3);  // row 1 has no 7
            assertThrows(IllegalArgumentException.class, () -> backend.eosPool(hidden, ids, OptionalInt.of(7), f32(backend, s, 2, 2)));
            // the process is still healthy: a valid call works afterwards
            assertArrayEquals(new long[] {1, 2}, backend.eosPool(hidden, ids, OptionalInt.empty(), f32(backend, s, 2, 2)));
            Tensor good = uploadInts(backend, s, new int[] {2, 0}, 2);
            Tensor rows = f32(backend, s, 2, 2);
            backend.gather(table, good, rows);
            assertEquals(List.of(5f, 6f, 1f, 2f), boxed(ConformanceSupport.download(rows)));
        }
    }

    private static List<Float> boxed(float[] v) {
        Float[] b = new Float[v.length];
        for (int i = 0; i < v.length; i++) b[i] = v[i];
        return List.of(b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.vlm4j.backend.ConformanceSupport#backendsAndReference")
    void repeatedUseReturnsAllNativeMemory(BackendCase bc) {
        try (Backend backend = bc.open()) {
            long before = NativeMemory.liveBytes();
            for (int cycle = 0; cycle < 300; cycle++) {
                try (TensorScope s = new TensorScope()) {
                    Tensor x = upload(backend, s, ConformanceSupport.uniform(new Random(cycle), 7 * 24), 1, 7, 24);
                    Tensor y = f32(backend, s, 1, 7, 24);
                    backend.linear(x, f32(backend, s, 24, 24), f32(backend, s, 24), Activation.GELU, x, y);
                    backend.layerNorm(y, f32(backend, s, 24), f32(backend, s, 24), 1e-5f, y);
                    backend.attention(y, y, y, x, 2, true, null);
                    backend.eosPool(x, uploadInts(backend, s, new int[] {1, 2, 9, 3, 4, 5, 6}, 1, 7), OptionalInt.empty(), f32(backend, s, 1, 24));
                    Tensor half = typed(backend, s, DType.F16, 1, 7, 24);
                    backend.convert(x, half);
                    // failing calls must not leak either (eosPool allocates a scratch tensor before the native call)
                    assertThrows(IllegalArgumentException.class, () -> backend.eosPool(x,
                            uploadInts(backend, s, new int[7], 1, 7), OptionalInt.of(9), f32(backend, s, 1, 24)));
                }
            }
            assertEquals(before, NativeMemory.liveBytes(), bc.name() + ": native bytes still held after 300 cycles");
        }
    }
}
