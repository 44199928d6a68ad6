package io.vlm4j.tensor;

import java.util.Arrays;

/** Shape arithmetic with overflow and sign checks. */
public final class Shapes {
    private Shapes() {}

    /** Number of elements; throws on a negative dimension or a product that overflows a long. */
    public static long numel(long... shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public static String toString(long... shape) { return Arrays.toString(shape); }
}
