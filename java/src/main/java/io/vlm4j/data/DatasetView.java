package io.vlm4j.data;

import io.vlm4j.image.ImageDecoder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/**
 * A selection of items of a source, in source order: the result of {@link ImageDataset#split}, {@link
 * ImageDataset#subsample}, {@link ImageDataset#kShot} and {@link ImageDataset#filter}. A view of a view selects from the
 * same source, so {@link #sourceIndex} is always one lookup.
 */
final class DatasetView implements ImageDataset {
    private final ImageDataset source;
    /** [size] indices into source, increasing. */
    private final int[] indices;
    private final String view;
    private final List<String> splits;

    private DatasetView(ImageDataset source, int[] indices, String view) {
        this.source = source;
        this.indices = indices;
        this.view = view;
        List<String> present = new ArrayList<>();
        for (String s : source.splits()) {
            for (int i : indices) {
                if (source.split(i).equals(s)) {
                    present.add(s);
                    break;
                }
            }
        }
        this.splits = List.copyOf(present);
    }

    /** The items of {@code of} at {@code local} (indices of {@code of}, increasing), as a view of its source. */
    private static DatasetView of(ImageDataset of, int[] local, String step) {
        int[] src = new int[local.length];
        for (int j = 0; j < local.length; j++) src[j] = of.sourceIndex(local[j]);
        String view = of.view().isEmpty() ? step : of.view() + " | " + step;
        return new DatasetView(of.source(), src, view);
    }

    static ImageDataset split(ImageDataset d, String name) {
        int[] idx = select(d, i -> d.split(i).equals(name));
        if (idx.length == 0) {
            boolean none = d.splits().equals(List.of(""));
            throw new IllegalArgumentException(describe(d) + ": no items in split '" + name + "' ("
                    + (none ? "the dataset has no splits" : "splits: " + String.join(", ", d.splits())) + ")");
        }
        return of(d, idx, "split(" + name + ")");
    }

    static ImageDataset filter(ImageDataset d, IntPredicate keep, String step) {
        return of(d, select(d, keep), step);
    }

    static ImageDataset subsample(ImageDataset d, int n, long seed) {
        if (n < 0 || n > d.size()) {
            throw new IllegalArgumentException(describe(d) + ": cannot subsample " + n + " of " + d.size() + " items");
        }
        String step = "subsample(" + n + ", seed " + seed + ")";
        if (n == 0) return of(d, new int[0], step);
        if (d.multiLabel()) {
            int[] perm = permutation(d.size(), seed, 0);
            int[] pick = Arrays.copyOf(perm, n);
            Arrays.sort(pick);
            return of(d, pick, step);
        }
        int[][] byClass = byClass(d);
        int k = byClass.length;
        // each class's exact share n * n_c / N, floors first, then the largest remainders (ties: lower class)
        int[] take = new int[k];
        long[] rem = new long[k];
        int given = 0;
        for (int c = 0; c < k; c++) {
            long exact = (long) n * byClass[c].length;
            take[c] = (int) (exact / d.size());
            rem[c] = exact % d.size();
            given += take[c];
        }
        Integer[] order = new Integer[k];
        for (int c = 0; c < k; c++) order[c] = c;
        Arrays.sort(order, (a, b) -> rem[a] != rem[b] ? Long.compare(rem[b], rem[a]) : Integer.compare(a, b));
        for (int j = 0; given < n; j++) {
            take[order[j]]++;
            given++;
        }
        return of(d, pick(byClass, take, seed), step);
    }

    static ImageDataset kShot(ImageDataset d, int k, long seed) {
        if (k < 1) throw new IllegalArgumentException("kShot: k must be >= 1, got " + k);
        if (d.multiLabel()) {
            throw new IllegalArgumentException(describe(d) + ": kShot needs a single-label dataset (this one is multi-label)");
        }
        int[][] byClass = byClass(d);
        int[] take = new int[byClass.length];
        for (int c = 0; c < byClass.length; c++) {
            if (byClass[c].length < k) {
                throw new IllegalArgumentException(describe(d) + ": class '" + d.classNames().get(c) + "' (" + c + ") has "
                        + byClass[c].length + " items, fewer than k = " + k);
            }
            take[c] = k;
        }
        return of(d, pick(byClass, take, seed), "kShot(" + k + ", seed " + seed + ")");
    }

    /** The first take[c] items of each class's seeded permutation, merged in index order. */
    private static int[] pick(int[][] byClass, int[] take, long seed) {
        int total = 0;
        for (int t : take) total += t;
        int[] out = new int[total];
        int o = 0;
        for (int c = 0; c < byClass.length; c++) {
            int[] perm = permutation(byClass[c].length, seed, c + 1);
            for (int j = 0; j < take[c]; j++) out[o++] = byClass[c][perm[j]];
        }
        Arrays.sort(out);
        return out;
    }

    /** A permutation of 0..n-1 from (seed, stream): each class has its own, independent of the others' sizes. */
    private static int[] permutation(int n, long seed, int stream) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + stream);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {  // Fisher-Yates
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** The items of each class, in index order. */
    private static int[][] byClass(ImageDataset d) {
        int k = d.numClasses();
        int[] count = new int[k];
        for (int i = 0; i < d.size(); i++) count[d.label(i)]++;
        int[][] out = new int[k][];
        for (int c = 0; c < k; c++) out[c] = new int[count[c]];
        int[] fill = new int[k];
        for (int i = 0; i < d.size(); i++) {
            int c = d.label(i);
            out[c][fill[c]++] = i;
        }
        return out;
    }

    private static int[] select(ImageDataset d, IntPredicate keep) {
        int[] out = new int[d.size()];
        int n = 0;
        for (int i = 0; i < d.size(); i++) if (keep.test(i)) out[n++] = i;
        return Arrays.copyOf(out, n);
    }

    private static String describe(ImageDataset d) {
        return d.view().isEmpty() ? d.identity() : d.identity() + " [" + d.view() + "]";
    }

    @Override
    public String name() { return source.name(); }

    @Override
    public String identity() { return source.identity(); }

    @Override
    public String view() { return view; }

    @Override
    public List<String> classNames() { return source.classNames(); }

    @Override
    public boolean multiLabel() { return source.multiLabel(); }

    @Override
    public int size() { return indices.length; }

    @Override
    public int label(int i) { return source.label(sourceIndex(i)); }

    @Override
    public int[] labelVector(int i) { return source.labelVector(sourceIndex(i)); }

    @Override
    public String split(int i) { return source.split(sourceIndex(i)); }

    @Override
    public List<String> splits() { return splits; }

    @Override
    public boolean fileBased() { return source.fileBased(); }

    @Override
    public Optional<Path> file(int i) { return source.file(sourceIndex(i)); }

    @Override
    public ImageDecoder.Decoded image(int i) throws IOException { return source.image(sourceIndex(i)); }

    @Override
    public ImageDataset source() { return source; }

    @Override
    public int sourceIndex(int i) {
        if (i < 0 || i >= indices.length) throw new IndexOutOfBoundsException("item " + i + " of " + indices.length);
        return indices[i];
    }

    @Override
    public String toString() {
        return describe(this) + " (" + size() + " items)";
    }
}
