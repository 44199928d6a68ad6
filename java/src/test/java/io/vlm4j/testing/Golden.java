package io.vlm4j.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates ../shared/golden (system property vlm4j.golden, set by the build); tests skip with a message when absent. */
public final class Golden {
    private Golden() {}

    public static Path dir() {
        String p = System.getProperty("vlm4j.golden", "../../shared/golden");
        Path dir = Path.of(p).toAbsolutePath().normalize();
        assumeTrue(Files.isDirectory(dir.resolve("models/tiny")),
                "golden data not found at " + dir + " (expected ../shared/golden beside the checkout): skipping");
        return dir;
    }

    /** max |a − b| */
    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }
}
