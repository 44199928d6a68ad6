package io.vlm4j.backend;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.cuda.CudaBackend;
import io.vlm4j.backend.cuda.CudaStatus;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Shared pieces of the op conformance suite (ggml test-backend-ops style): the backends under test, seeded random
 * inputs, host/device transfers and the normwise tolerance check against {@link ReferenceBackend}.
 */
final class ConformanceSupport {
    private ConformanceSupport() {}

    /** F32 tolerance: max|ours − ref| ≤ TOL · max(1, max|ref|) per tensor. */
    static final double F32_TOLERANCE = 1e-5;

    /** A backend the suite runs against; an unavailable one is reported as skipped, not silently dropped. */
    record BackendCase(String name, Supplier<Backend> factory, Optional<String> unavailableReason) {
        Backend open() {
            assumeTrue(unavailableReason.isEmpty(), () -> name + " unavailable: " + unavailableReason.orElse(""));
            return factory.get();
        }

        @Override
        public String toString() { return name; }
    }

    /** The backends compared with the reference. Adding one is one line here. */
    static Stream<BackendCase> backends() {
        return Stream.of(
                new BackendCase("cpu", CpuBackend::new, Optional.empty()),
                new BackendCase("cuda", CudaBackend::new, CudaStatus.unavailableReason()));
    }

    /** The backends plus the reference itself: for checks every backend must pass (argument rejection, leaks). */
    static Stream<BackendCase> backendsAndReference() {
        return Stream.concat(Stream.of(new BackendCase("reference", ReferenceBackend::new, Optional.empty())), backends());
    }

    // ---- inputs ----

    static float[] uniform(Random rng, int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (lo + (hi - lo) * rng.nextDouble());
        return v;
    }

    static float[] uniform(Random rng, long n) {
        return uniform(rng, Math.toIntExact(n), -1, 1);
    }

    static long numel(long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    // ---- host/device transfers: identity for host backends, the one place a device copy goes ----

    static Tensor upload(Backend backend, TensorScope scope, float[] data, long... shape) {
        return scope.track(backend.adopt(Tensor.of(data, shape)));
    }

    static Tensor uploadInts(Backend backend, TensorScope scope, int[] data, long... shape) {
        return scope.track(backend.adopt(Tensor.ofInts(data, shape)));
    }

    /** A zero-filled F32 tensor on the backend's device. */
    static Tensor zeros(Backend backend, TensorScope scope, long... shape) {
        return scope.track(backend.allocate(DType.F32, shape));
    }

    static float[] download(Tensor t) {
        return t.toFloatArray();  // staged through host memory for device tensors
    }

    // ---- comparison ----

    /** One op call: uploads its inputs to {@code backend} (tracked by {@code scope}) and returns the output tensor. */
    @FunctionalInterface
    interface OpRun {
        Tensor run(Backend backend, TensorScope scope);
    }

    /** Runs {@code run} on the reference and on {@code backend} from the same inputs and compares the outputs. */
    static void check(BackendCase bc, Backend backend, Backend reference, String op, String what, OpRun run) {
        try (TensorScope refScope = new TensorScope(); TensorScope ourScope = new TensorScope()) {
            float[] expected = download(run.run(reference, refScope));
            float[] actual = download(run.run(backend, ourScope));
            assertClose(bc.name(), op, what, expected, actual);
        }
    }

    /** Worst normwise error seen per "backend op", printed by {@link #printObservedErrors()}. */
    private static final Map<String, double[]> OBSERVED = new TreeMap<>();

    /**
     * Asserts max|ours − ref| ≤ {@link #F32_TOLERANCE}·max(1, max|ref|). NaN or Inf must match exactly (same
     * class and sign); any other mismatch counts as an infinite error.
     */
    static void assertClose(String backend, String op, String what, float[] ref, float[] ours) {
        assertTrue(ref.length == ours.length, op + " " + what + ": lengths differ " + ref.length + " vs " + ours.length);
        double maxRef = 0, maxErr = 0;
        int worst = -1;
        for (int i = 0; i < ref.length; i++) {
            double err;
            if (Float.isFinite(ref[i]) && Float.isFinite(ours[i])) {
                err = Math.abs((double) ours[i] - ref[i]);
                maxRef = Math.max(maxRef, Math.abs(ref[i]));
            } else {
                boolean same = Float.isNaN(ref[i]) ? Float.isNaN(ours[i]) : ref[i] == ours[i];
                err = same ? 0 : Double.POSITIVE_INFINITY;
            }
            if (worst < 0 || err > maxErr) {
                maxErr = err;
                worst = i;
            }
        }
        double scale = Math.max(1, maxRef);
        record(backend, op, maxErr / scale);
        if (maxErr > F32_TOLERANCE * scale) {
            throw new AssertionError(backend + " " + op + " " + what + ": max|err| = " + maxErr + " > " + F32_TOLERANCE
                    + " * " + scale + ", normwise " + (maxErr / scale)
                    + " (worst at " + worst + ": ref " + ref[worst] + ", got " + ours[worst] + ")");
        }
    }

    static synchronized void record(String backend, String op, double normwiseError) {
        double[] worstAndCount = OBSERVED.computeIfAbsent(backend + " " + op, k -> new double[2]);
        worstAndCount[0] = Math.max(worstAndCount[0], normwiseError);
        worstAndCount[1]++;
    }

    static synchronized void printObservedErrors() {
        OBSERVED.forEach((key, v) -> System.out.printf("[conformance] %-28s max normwise error %.3g over %d tensors%n",
                key, v[0], (long) v[1]));
        OBSERVED.clear();
    }
}
