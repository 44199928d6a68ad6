package io.vlm4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Cosine k-NN on points on the unit circle (angle in degrees), where neighbours can be read off by hand. */
class KnnClassifierTest {
    static double[] at(double degrees, double length) {
        double r = Math.toRadians(degrees);
        return new double[] {length * Math.cos(r), length * Math.sin(r)};
    }

    /** Class 0 at 0°, 10°, 20°; class 1 at 40°, 45°. Lengths vary: only the angle matters. */
    private static final double[][] TRAIN = {at(0, 1), at(10, 3), at(20, 0.5), at(40, 2), at(45, 1)};
    private static final int[] Y = {0, 0, 0, 1, 1};

    @Test
    void majorityVoteOnCosine() {
        KnnClassifier knn = KnnClassifier.fit(TRAIN, Y, KnnClassifier.Options.defaults().withK(3));
        // Query at 38°: nearest 40° (1), 45° (1), 20° (0) → 1. Query at 24°: 20°, 10°, 40° → 0, 0, 1 → 0.
        assertArrayEquals(new int[] {1, 0}, knn.predict(new double[][] {at(38, 7), at(24, 1)}));
        assertEquals(1.0, knn.score(new double[][] {at(38, 7), at(24, 1)}, new int[] {1, 0}));
        // k larger than the training set: all five vote, 3 against 2, even right next to class 1.
        assertArrayEquals(new int[] {0}, KnnClassifier.fit(TRAIN, Y, KnnClassifier.Options.defaults()).predict(new double[][] {at(44, 1)}));
    }

    @Test
    void voteTiesGoToTheNearestNeighboursClass() {
        // k = 2 between 20° (class 0) and 40° (class 1): one vote each → the class of the nearer one.
        KnnClassifier a = KnnClassifier.fit(TRAIN, Y, KnnClassifier.Options.defaults().withK(2));
        assertArrayEquals(new int[] {0, 1}, a.predict(new double[][] {at(29, 1), at(31, 1)}));
        // Equal similarities (the same point twice, different labels): the lower training index comes first and wins,
        // whatever the class numbers.
        double[][] twice = {at(20, 1), at(20, 1), at(90, 1)};
        assertArrayEquals(new int[] {9}, KnnClassifier.fit(twice, new int[] {9, 4, 4}, KnnClassifier.Options.defaults().withK(2))
                .predict(new double[][] {at(0, 1)}));
        assertArrayEquals(new int[] {4}, KnnClassifier.fit(twice, new int[] {4, 9, 9}, KnnClassifier.Options.defaults().withK(2))
                .predict(new double[][] {at(0, 1)}));
    }

    @Test
    void weightedVotes() {
        // One class-0 point at 0°, three class-1 points at 30°, 31°, 32°; k = 4, query at 14°: majority → 1.
        double[][] x = {at(0, 1), at(30, 1), at(31, 1), at(32, 1)};
        int[] y = {0, 1, 1, 1};
        double[][] q = {at(14, 1)};
        assertArrayEquals(new int[] {1}, KnnClassifier.fit(x, y, new KnnClassifier.Options(4, KnnClassifier.Voting.MAJORITY, 0.07)).predict(q));
        // Inverse distance: 1/(1 − cos 14°) = 33.7 against 1/(1 − cos 16°) + 1/(1 − cos 17°) + 1/(1 − cos 18°) = 25.8 + 22.9 + 20.4
        // → 1; at 2°, 1/(1 − cos 2°) = 1641 outweighs 8.5 + 8.0 + 7.5 → 0 where the majority still says 1.
        KnnClassifier inv = KnnClassifier.fit(x, y, new KnnClassifier.Options(4, KnnClassifier.Voting.INVERSE_DISTANCE, 0.07));
        assertArrayEquals(new int[] {1, 0}, inv.predict(new double[][] {at(14, 1), at(2, 1)}));
        assertArrayEquals(new int[] {1}, KnnClassifier.fit(x, y, KnnClassifier.Options.defaults().withK(4)).predict(new double[][] {at(2, 1)}));
        // exp(cos/T) with T = 0.01: e^{(cos 14° − 1)/T} = 0.051 against 0.021 + 0.012 + 0.007 = 0.040 → 0.
        assertArrayEquals(new int[] {0}, KnnClassifier.fit(x, y, new KnnClassifier.Options(4, KnnClassifier.Voting.EXPONENTIAL, 0.01)).predict(q));
        // ... and with DINO's T = 0.07 the three farther points win again.
        assertArrayEquals(new int[] {1}, KnnClassifier.fit(x, y, new KnnClassifier.Options(4, KnnClassifier.Voting.EXPONENTIAL, 0.07)).predict(q));
        // An exact match (distance 0) outvotes everything under inverse distance, as in sklearn.
        assertArrayEquals(new int[] {0}, KnnClassifier.fit(x, y, new KnnClassifier.Options(4, KnnClassifier.Voting.INVERSE_DISTANCE, 0.07))
                .predict(new double[][] {at(0, 5)}));
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> new KnnClassifier.Options(0, KnnClassifier.Voting.MAJORITY, 0.07));
        assertThrows(IllegalArgumentException.class, () -> KnnClassifier.fit(TRAIN, new int[] {0}, KnnClassifier.Options.defaults()));
        assertThrows(IllegalArgumentException.class, () -> KnnClassifier.fit(new double[][] {{0, 0}}, new int[] {0}, KnnClassifier.Options.defaults()));
        KnnClassifier k = KnnClassifier.fit(TRAIN, Y, KnnClassifier.Options.defaults());
        assertThrows(IllegalArgumentException.class, () -> k.predict(new double[][] {{1, 2, 3}}));
        assertThrows(IllegalArgumentException.class, () -> k.predict(new float[][] {{0, 0}}));
    }
}
