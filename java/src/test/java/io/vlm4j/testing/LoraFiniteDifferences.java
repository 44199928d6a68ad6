package io.vlm4j.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.lora.LoraState;
import io.vlm4j.train.Parameter;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Adapter gradients against central finite differences of a scalar loss: random coordinates of the adapter's A and B
 * are moved by ±h (the sites rebuilt after each move), (L(x+h) − L(x−h)) / 2h compared with the analytic gradient
 * within {@code tol·max|grad| + 1e-3·|fd|}. Shared by the LoRA gradient tests of every tower.
 */
public final class LoraFiniteDifferences {
    private LoraFiniteDifferences() {}

    /**
     * Checks {@code samples} coordinates drawn with {@code seed}; {@code analytic[k]} is the gradient of
     * {@code state.parameters().get(k)}. Returns the worst |fd − analytic| / max|grad|.
     */
    public static double check(LoraState state, float[][] analytic, DoubleSupplier loss, int samples, long seed, double tol) {
        List<Parameter> ps = state.parameters();
        double gmax = 0;
        for (float[] g : analytic) for (float x : g) gmax = Math.max(gmax, Math.abs(x));
        assertTrue(gmax > 0, "the analytic gradients are all zero");
        SplittableRandom r = new SplittableRandom(seed);
        double worst = 0;
        for (int k = 0; k < samples; k++) {
            int pi = r.nextInt(ps.size());
            Parameter p = ps.get(pi);
            int idx = r.nextInt((int) p.value().numel());
            float[] val = p.value().toFloatArray();
            float x0 = val[idx], h = 1e-2f;
            double lp = lossAt(state, p, val, idx, x0 + h, loss);
            double lm = lossAt(state, p, val, idx, x0 - h, loss);
            lossAt(state, p, val, idx, x0, null);
            double fd = (lp - lm) / (2 * h), err = Math.abs(fd - analytic[pi][idx]);
            worst = Math.max(worst, err / gmax);
            assertTrue(err <= tol * gmax + 1e-3 * Math.abs(fd),
                    p.name() + "[" + idx + "]: analytic " + analytic[pi][idx] + " vs finite difference " + fd);
        }
        return worst;
    }

    /** The current gradients of every parameter of {@code state}, in {@link LoraState#parameters()} order. */
    public static float[][] gradients(LoraState state) {
        return state.parameters().stream().map(p -> p.grad().toFloatArray()).toArray(float[][]::new);
    }

    /** Zeroes every gradient of {@code state}. */
    public static void zeroGradients(LoraState state) {
        for (Parameter p : state.parameters()) p.grad().copyFrom(new float[(int) p.grad().numel()]);
    }

    private static double lossAt(LoraState state, Parameter p, float[] val, int idx, float x, DoubleSupplier loss) {
        val[idx] = x;
        p.value().copyFrom(val);
        state.refresh();
        return loss == null ? 0 : loss.getAsDouble();
    }
}
