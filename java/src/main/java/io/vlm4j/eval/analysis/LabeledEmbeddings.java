package io.vlm4j.eval.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Embeddings with one class label per row, checked once at the boundary: a rectangular, finite {@code [N, E]}
 * matrix (kept in float64), labels in {@code [0, classNames.size())}. Classes that have no rows are allowed
 * (a split may lack one); the metrics see only the classes present, as sklearn's LabelEncoder does.
 *
 * @param x          {@code [N, E]}, float64; not copied by the double[][] factory, so do not change it afterwards
 * @param labels     {@code [N]}, class index of each row
 * @param classNames {@code [C]}
 */
public record LabeledEmbeddings(double[][] x, int[] labels, List<String> classNames) {
    public LabeledEmbeddings {
        classNames = List.copyOf(classNames);
        if (x.length == 0) throw new IllegalArgumentException("embeddings: no rows");
        if (labels.length != x.length) {
            throw new IllegalArgumentException("embeddings: " + x.length + " rows but " + labels.length + " labels");
        }
        if (classNames.isEmpty()) throw new IllegalArgumentException("embeddings: no class names");
        int e = x[0].length;
        if (e == 0) throw new IllegalArgumentException("embeddings: rows have no columns");
        for (int i = 0; i < x.length; i++) {
            if (x[i].length != e) {
                throw new IllegalArgumentException("embeddings: row " + i + " has " + x[i].length + " values, row 0 has " + e);
            }
            for (double v : x[i]) {
                if (!Double.isFinite(v)) throw new IllegalArgumentException("embeddings: row " + i + " has a non-finite value " + v);
            }
            if (labels[i] < 0 || labels[i] >= classNames.size()) {
                throw new IllegalArgumentException("embeddings: row " + i + " has label " + labels[i] + ", outside [0, "
                        + classNames.size() + ")");
            }
        }
    }

    public static LabeledEmbeddings of(double[][] x, int[] labels, List<String> classNames) {
        return new LabeledEmbeddings(x, labels.clone(), classNames);
    }

    /** Widens float32 embeddings (what the encoders return) to float64. */
    public static LabeledEmbeddings of(float[][] x, int[] labels, List<String> classNames) {
        double[][] d = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            d[i] = new double[x[i].length];
            for (int j = 0; j < x[i].length; j++) d[i][j] = x[i][j];
        }
        return new LabeledEmbeddings(d, labels.clone(), classNames);
    }

    public int size() { return x.length; }

    public int dim() { return x[0].length; }

    /** Rows per class, {@code [C]}, zero for absent classes. */
    public int[] classCounts() {
        int[] counts = new int[classNames.size()];
        for (int l : labels) counts[l]++;
        return counts;
    }

    /** How many classes have at least one row. */
    public int presentClasses() {
        return (int) Arrays.stream(classCounts()).filter(c -> c > 0).count();
    }

    /** The rows {@code rows} (indices into this set), sharing the row arrays. */
    public LabeledEmbeddings subset(int[] rows) {
        double[][] sx = new double[rows.length][];
        int[] sl = new int[rows.length];
        for (int i = 0; i < rows.length; i++) {
            sx[i] = x[rows[i]];
            sl[i] = labels[rows[i]];
        }
        return new LabeledEmbeddings(sx, sl, classNames);
    }

    /**
     * A seeded stratified sample of at most {@code max} rows, as ascending row indices: all rows when there are
     * no more than {@code max}; otherwise each present class gets a share proportional to its size (largest
     * remainder, so the shares add up to exactly {@code max}), at least one row, and its rows are chosen by a
     * partial Fisher–Yates shuffle with {@link Random}, whose sequence the JDK specifies, so the same seed gives the
     * same sample on every JVM.
     */
    public int[] stratifiedSample(int max, long seed) {
        int n = x.length;
        if (max < 1) throw new IllegalArgumentException("sample size must be >= 1, got " + max);
        if (n <= max) {
            int[] all = new int[n];
            Arrays.setAll(all, i -> i);
            return all;
        }
        int[] counts = classCounts();
        int present = presentClasses();
        if (present > max) {
            throw new IllegalArgumentException("sample of " + max + " rows cannot hold one row of each of " + present + " classes");
        }
        int[] quota = quotas(counts, n, max);
        List<List<Integer>> byClass = new ArrayList<>();
        for (int c = 0; c < counts.length; c++) byClass.add(new ArrayList<>(counts[c]));
        for (int i = 0; i < n; i++) byClass.get(labels[i]).add(i);
        Random rng = new Random(seed);
        int[] out = new int[max];
        int k = 0;
        for (int c = 0; c < counts.length; c++) {
            List<Integer> rows = byClass.get(c);
            for (int i = 0; i < quota[c]; i++) {
                int j = i + rng.nextInt(rows.size() - i);
                Integer t = rows.get(i);
                rows.set(i, rows.get(j));
                rows.set(j, t);
                out[k++] = rows.get(i);
            }
        }
        Arrays.sort(out);
        return out;
    }

    /** Largest-remainder apportionment of {@code max} over the classes, with at least one row per present class. */
    private static int[] quotas(int[] counts, int n, int max) {
        int c = counts.length;
        int[] quota = new int[c];
        double[] remainder = new double[c];
        int given = 0;
        for (int k = 0; k < c; k++) {
            double exact = (double) counts[k] * max / n;
            quota[k] = (int) Math.floor(exact);
            remainder[k] = exact - quota[k];
            given += quota[k];
        }
        Integer[] order = new Integer[c];
        Arrays.setAll(order, k -> k);
        Arrays.sort(order, (a, b) -> Double.compare(remainder[b], remainder[a]));  // stable: ties by class index
        for (int k = 0; given < max; k = (k + 1) % c) {
            if (quota[order[k]] < counts[order[k]]) {
                quota[order[k]]++;
                given++;
            }
        }
        for (int k = 0; k < c; k++) {
            if (counts[k] > 0 && quota[k] == 0) {
                int largest = 0;
                for (int j = 1; j < c; j++) if (quota[j] > quota[largest]) largest = j;
                quota[largest]--;
                quota[k] = 1;
            }
        }
        return quota;
    }
}
