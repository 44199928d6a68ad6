package io.vlm4j.eval.analysis;

/**
 * Count, mean and population standard deviation (ddof = 0) of a set of values; NaN mean and std when empty.
 */
public record SummaryStats(long count, double mean, double std) {
    static final SummaryStats EMPTY = new SummaryStats(0, Double.NaN, Double.NaN);

    /** Welford's running mean and sum of squared deviations, mergeable by Chan et al.'s pairwise formula. */
    static final class Accumulator {
        private long n;
        private double mean;
        private double m2;

        void add(double v) {
            n++;
            double d = v - mean;
            mean += d / n;
            m2 += d * (v - mean);
        }

        void merge(Accumulator o) {
            if (o.n == 0) return;
            if (n == 0) {
                n = o.n;
                mean = o.mean;
                m2 = o.m2;
                return;
            }
            long total = n + o.n;
            double d = o.mean - mean;
            mean += d * o.n / total;
            m2 += o.m2 + d * d * ((double) n * o.n / total);
            n = total;
        }

        SummaryStats stats() {
            return n == 0 ? EMPTY : new SummaryStats(n, mean, Math.sqrt(Math.max(0, m2 / n)));
        }
    }
}
