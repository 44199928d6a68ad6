package io.vlm4j.eval;

import java.util.Arrays;

/**
 * Cosine k-nearest-neighbour classification of embeddings, the usual frozen-feature evaluation beside the linear
 * probe (k = 20 as in DINO's k-NN protocol). Embeddings are L2-normalized; similarity = cosine.
 *
 * <p>Neighbours are the k most similar training rows, equal similarities ordered by training index. Votes:
 * <ul>
 *   <li>{@link Voting#MAJORITY}: one each;</li>
 *   <li>{@link Voting#INVERSE_DISTANCE}: 1 / (1 − cos), sklearn's {@code weights="distance"} with the cosine
 *       distance; when some neighbours are at distance 0 only they vote, as in sklearn;</li>
 *   <li>{@link Voting#EXPONENTIAL}: exp(cos / T), DINO's weighted k-NN (T = 0.07).</li>
 * </ul>
 * A tie in votes goes to the tied class with the nearest neighbour (earliest in the neighbour order), so results do
 * not depend on class numbering. A k larger than the training set uses all of it. Queries are not excluded from the
 * training set: pass disjoint splits.
 */
public final class KnnClassifier {
    public enum Voting { MAJORITY, INVERSE_DISTANCE, EXPONENTIAL }

    /** @param temperature T of {@link Voting#EXPONENTIAL}; ignored otherwise */
    public record Options(int k, Voting voting, double temperature) {
        public Options {
            if (k < 1) throw new IllegalArgumentException("k-NN: k must be >= 1, got " + k);
            if (voting == null) throw new IllegalArgumentException("k-NN: voting is null");
            if (!(temperature > 0) || !Double.isFinite(temperature)) throw new IllegalArgumentException("k-NN: temperature must be > 0, got " + temperature);
        }

        /** k = 20, majority vote. */
        public static Options defaults() { return new Options(20, Voting.MAJORITY, 0.07); }

        public Options withK(int newK) { return new Options(newK, voting, temperature); }

        public Options withVoting(Voting v) { return new Options(k, v, temperature); }
    }

    private final double[][] train;  // [N][E], unit rows
    private final int[] labels;
    private final Options options;

    private KnnClassifier(double[][] train, int[] labels, Options options) {
        this.train = train;
        this.labels = labels;
        this.options = options;
    }

    public static KnnClassifier fit(double[][] x, int[] y, Options options) {
        Matrices.requireMatrix("k-NN", "training embeddings", x);
        if (y.length != x.length) throw new IllegalArgumentException("k-NN: " + x.length + " rows but " + y.length + " labels");
        double[][] unit = new double[x.length][];
        for (int i = 0; i < x.length; i++) unit[i] = Matrices.normalized(x[i], "k-NN: training embedding " + i);
        return new KnnClassifier(unit, y.clone(), options);
    }

    public static KnnClassifier fit(float[][] x, int[] y, Options options) { return fit(Matrices.toDouble(x), y, options); }

    public Options options() { return options; }

    /** The predicted label of each query. */
    public int[] predict(double[][] queries) {
        int e = Matrices.requireMatrix("k-NN", "queries", queries);
        if (e != train[0].length) throw new IllegalArgumentException("k-NN: queries have " + e + " dims, the training set " + train[0].length);
        int k = Math.min(options.k(), train.length);
        int[] out = new int[queries.length];
        int[] nn = new int[k];
        double[] sim = new double[k];
        for (int q = 0; q < queries.length; q++) {
            double[] u = Matrices.normalized(queries[q], "k-NN: query " + q);
            neighbours(u, nn, sim);
            out[q] = vote(nn, sim);
        }
        return out;
    }

    public int[] predict(float[][] queries) { return predict(Matrices.toDouble(queries)); }

    /** Accuracy of {@link #predict} against y. */
    public double score(double[][] queries, int[] y) {
        if (y.length != queries.length) throw new IllegalArgumentException("k-NN: " + queries.length + " queries but " + y.length + " labels");
        return ClassificationMetrics.accuracy(y, predict(queries));
    }

    public double score(float[][] queries, int[] y) { return score(Matrices.toDouble(queries), y); }

    /** The k most similar rows into nn/sim, most similar first; equal similarity: lower index first. */
    private void neighbours(double[] u, int[] nn, double[] sim) {
        int k = nn.length, filled = 0;
        for (int i = 0; i < train.length; i++) {
            double s = Lbfgs.dot(u, train[i]);
            if (filled == k && !(s > sim[k - 1])) continue;  // rows come in index order, so a tie keeps the earlier one
            int pos = filled == k ? k - 1 : filled++;
            while (pos > 0 && s > sim[pos - 1]) {
                sim[pos] = sim[pos - 1];
                nn[pos] = nn[pos - 1];
                pos--;
            }
            sim[pos] = s;
            nn[pos] = i;
        }
    }

    private int vote(int[] nn, double[] sim) {
        int k = nn.length;
        double[] w = new double[k];
        boolean exact = false;
        for (int j = 0; j < k; j++) exact |= 1 - sim[j] <= 0;
        for (int j = 0; j < k; j++) {
            w[j] = switch (options.voting()) {
                case MAJORITY -> 1;
                case INVERSE_DISTANCE -> exact ? (1 - sim[j] <= 0 ? 1 : 0) : 1 / (1 - sim[j]);
                case EXPONENTIAL -> Math.exp((sim[j] - 1) / options.temperature());  // exp(cos/T) up to a common factor
            };
        }
        // Sum per label, remembering each label's first (nearest) position for the tie rule.
        int[] distinct = Arrays.stream(nn).map(i -> labels[i]).distinct().toArray();  // in neighbour order
        int bestLabel = distinct[0];
        double bestVotes = Double.NEGATIVE_INFINITY;
        for (int label : distinct) {
            double v = 0;
            for (int j = 0; j < k; j++) if (labels[nn[j]] == label) v += w[j];
            if (v > bestVotes) {
                bestVotes = v;
                bestLabel = label;
            }
        }
        return bestLabel;
    }
}
