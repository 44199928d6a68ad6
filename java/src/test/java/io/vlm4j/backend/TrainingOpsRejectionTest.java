package io.vlm4j.backend;

import static io.vlm4j.backend.ConformanceSupport.zeros;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.ConformanceSupport.BackendCase;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every backend, the reference included, must refuse in the training ops (as {@link OpConformanceRejectionTest}
 * for the forward ones): bad shapes, dtypes, hyper-parameters and forbidden aliasing raise
 * {@link IllegalArgumentException} whose message names the op.
 */
class TrainingOpsRejectionTest {

    /** One bad call of {@code op}: a name for the report and the call itself. */
    private record BadCall(String op, String name, BiConsumer<Backend, TensorScope> call) {
        @Override
        public String toString() { return op + " " + name; }
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

    private static BadCall bad(String op, String name, BiConsumer<Backend, TensorScope> call) { return new BadCall(op, name, call); }

    private static final String LN = "layerNormBackward", ACT = "activationBackward", ATT = "attentionPackedBackward",
            L2 = "l2NormalizeBackward", DROP = "dropout", ADAM = "adamw";
    private static final Activation GELU = Activation.GELU;

    /** adamw on four fresh F32 [5] tensors with the given hyper-parameters. */
    private static BiConsumer<Backend, TensorScope> adamw(float lr, float beta1, float beta2, float eps, float wd, long step) {
        return (b, s) -> b.adamw(f32(b, s, 5), f32(b, s, 5), f32(b, s, 5), f32(b, s, 5), lr, beta1, beta2, eps, wd, step);
    }

    private static final List<BadCall> BAD_CALLS = List.of(
        // layerNormBackward
        bad(LN, "gamma shape", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 3), 1e-5f, f32(b, s, 2, 4), f32(b, s, 2, 4), false, null, null)),
        bad(LN, "dy shape", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 1e-5f, f32(b, s, 4, 2), f32(b, s, 2, 4), false, null, null)),
        bad(LN, "dx shape", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4), f32(b, s, 8), false, null, null)),
        bad(LN, "eps 0", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 0f, f32(b, s, 2, 4), f32(b, s, 2, 4), false, null, null)),
        bad(LN, "eps NaN", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), Float.NaN, f32(b, s, 2, 4), f32(b, s, 2, 4), false, null, null)),
        bad(LN, "x F16", (b, s) -> b.layerNormBackward(typed(b, s, DType.F16, 2, 4), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4), f32(b, s, 2, 4), false, null, null)),
        bad(LN, "dx BF16", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4), typed(b, s, DType.BF16, 2, 4), false, null, null)),
        bad(LN, "dGamma shape", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4), f32(b, s, 2, 4), false, f32(b, s, 5), null)),
        bad(LN, "dBeta F16", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4), f32(b, s, 2, 4), false, null, typed(b, s, DType.F16, 4))),
        bad(LN, "dx == dy while accumulating", (b, s) -> {
            Tensor dy = f32(b, s, 2, 4);
            b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 1e-5f, dy, dy, true, null, null);
        }),
        bad(LN, "dGamma == dBeta", (b, s) -> {
            Tensor g = f32(b, s, 4);
            b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 1e-5f, f32(b, s, 2, 4), f32(b, s, 2, 4), false, g, g);
        }),
        bad(LN, "dy closed", (b, s) -> b.layerNormBackward(f32(b, s, 2, 4), f32(b, s, 4), 1e-5f, closed(b, s, 2, 4), f32(b, s, 2, 4), false, null, null)),
        // activationBackward, l2NormalizeBackward
        bad(ACT, "dy shape", (b, s) -> b.activationBackward(GELU, f32(b, s, 8), f32(b, s, 7), f32(b, s, 8))),
        bad(ACT, "dx shape", (b, s) -> b.activationBackward(GELU, f32(b, s, 8), f32(b, s, 8), f32(b, s, 2, 4))),
        bad(ACT, "x F16", (b, s) -> b.activationBackward(GELU, typed(b, s, DType.F16, 8), f32(b, s, 8), f32(b, s, 8))),
        bad(ACT, "x closed", (b, s) -> b.activationBackward(GELU, closed(b, s, 8), f32(b, s, 8), f32(b, s, 8))),
        bad(L2, "dy shape", (b, s) -> b.l2NormalizeBackward(f32(b, s, 2, 4), 1e-12f, f32(b, s, 2, 5), f32(b, s, 2, 4))),
        bad(L2, "dx I32", (b, s) -> b.l2NormalizeBackward(f32(b, s, 2, 4), 1e-12f, f32(b, s, 2, 4), typed(b, s, DType.I32, 2, 4))),
        // attentionPackedBackward
        bad(ATT, "last dim not 3·width", (b, s) -> b.attentionPackedBackward(f32(b, s, 1, 3, 10), f32(b, s, 1, 3, 3), f32(b, s, 1, 3, 3), f32(b, s, 1, 3, 10), 1, false, null)),
        bad(ATT, "width not divisible by heads", (b, s) -> b.attentionPackedBackward(f32(b, s, 1, 3, 24), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 24), 3, false, null)),
        bad(ATT, "dOut shape", (b, s) -> b.attentionPackedBackward(f32(b, s, 1, 3, 24), f32(b, s, 1, 3, 8), f32(b, s, 1, 2, 8), f32(b, s, 1, 3, 24), 2, false, null)),
        bad(ATT, "dQkv shape", (b, s) -> b.attentionPackedBackward(f32(b, s, 1, 3, 24), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), 2, false, null)),
        bad(ATT, "qkv F16", (b, s) -> b.attentionPackedBackward(typed(b, s, DType.F16, 1, 3, 24), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 24), 2, false, null)),
        bad(ATT, "keyMask F32", (b, s) -> b.attentionPackedBackward(f32(b, s, 1, 3, 24), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 24), 2, true, f32(b, s, 1, 3))),
        bad(ATT, "keyMask shape", (b, s) -> b.attentionPackedBackward(f32(b, s, 1, 3, 24), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 24), 2, true, typed(b, s, DType.I32, 1, 4))),
        bad(ATT, "dQkv == qkv", (b, s) -> {
            Tensor qkv = f32(b, s, 1, 3, 24);
            b.attentionPackedBackward(qkv, f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), qkv, 2, false, null);
        }),
        bad(ATT, "dOut inside dQkv", (b, s) -> {
            Tensor dQkv = f32(b, s, 1, 3, 24);
            b.attentionPackedBackward(f32(b, s, 1, 3, 24), f32(b, s, 1, 3, 8), dQkv.view(24, 1, 3, 8), dQkv, 2, false, null);
        }),
        bad(ATT, "dQkv closed", (b, s) -> b.attentionPackedBackward(f32(b, s, 1, 3, 24), f32(b, s, 1, 3, 8), f32(b, s, 1, 3, 8), closed(b, s, 1, 3, 24), 2, false, null)),
        // dropout
        bad(DROP, "p 1", (b, s) -> b.dropout(f32(b, s, 8), 1f, 0, f32(b, s, 8))),
        bad(DROP, "p negative", (b, s) -> b.dropout(f32(b, s, 8), -0.1f, 0, f32(b, s, 8))),
        bad(DROP, "p NaN", (b, s) -> b.dropout(f32(b, s, 8), Float.NaN, 0, f32(b, s, 8))),
        bad(DROP, "out shape", (b, s) -> b.dropout(f32(b, s, 8), 0.1f, 0, f32(b, s, 9))),
        bad(DROP, "x BF16", (b, s) -> b.dropout(typed(b, s, DType.BF16, 8), 0.1f, 0, f32(b, s, 8))),
        // adamw
        bad(ADAM, "grad shape", (b, s) -> b.adamw(f32(b, s, 5), f32(b, s, 6), f32(b, s, 5), f32(b, s, 5), 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1)),
        bad(ADAM, "m F16", (b, s) -> b.adamw(f32(b, s, 5), f32(b, s, 5), typed(b, s, DType.F16, 5), f32(b, s, 5), 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1)),
        bad(ADAM, "v shape", (b, s) -> b.adamw(f32(b, s, 5), f32(b, s, 5), f32(b, s, 5), f32(b, s, 1, 5), 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1)),
        bad(ADAM, "param closed", (b, s) -> b.adamw(closed(b, s, 5), f32(b, s, 5), f32(b, s, 5), f32(b, s, 5), 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1)),
        bad(ADAM, "step 0", adamw(1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 0)),
        bad(ADAM, "lr NaN", adamw(Float.NaN, 0.9f, 0.999f, 1e-8f, 0f, 1)),
        bad(ADAM, "lr negative", adamw(-1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1)),
        bad(ADAM, "beta1 1", adamw(1e-3f, 1f, 0.999f, 1e-8f, 0f, 1)),
        bad(ADAM, "beta2 negative", adamw(1e-3f, 0.9f, -0.5f, 1e-8f, 0f, 1)),
        bad(ADAM, "eps 0", adamw(1e-3f, 0.9f, 0.999f, 0f, 0f, 1)),
        bad(ADAM, "weight decay infinite", adamw(1e-3f, 0.9f, 0.999f, 1e-8f, Float.POSITIVE_INFINITY, 1)),
        // sumSquares, scale
        bad("sumSquares", "x I32", (b, s) -> b.sumSquares(typed(b, s, DType.I32, 5))),
        bad("sumSquares", "x closed", (b, s) -> b.sumSquares(closed(b, s, 5))),
        bad("scale", "x F16", (b, s) -> b.scale(typed(b, s, DType.F16, 5), 2f)),
        bad("scale", "alpha NaN", (b, s) -> b.scale(f32(b, s, 5), Float.NaN)),
        bad("scale", "alpha infinite", (b, s) -> b.scale(f32(b, s, 5), Float.NEGATIVE_INFINITY)));

    static Stream<Arguments> badCallsOnEveryBackend() {
        return ConformanceSupport.backendsAndReference().flatMap(bc -> BAD_CALLS.stream().map(call -> Arguments.of(bc, call)));
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("badCallsOnEveryBackend")
    void rejectsBadArguments(BackendCase bc, BadCall badCall) {
        try (Backend backend = bc.open(); TensorScope scope = new TensorScope()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> badCall.call().accept(backend, scope),
                    bc.name() + " accepted: " + badCall);
            assertTrue(e.getMessage() != null && e.getMessage().startsWith(badCall.op() + ": "),
                    badCall + ": the message does not name the op: " + e.getMessage());
        }
    }
}
