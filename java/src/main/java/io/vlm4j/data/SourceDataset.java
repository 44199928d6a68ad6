package io.vlm4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What every source holds in memory: class names, labels and split per item. Labels are validated once here (range,
 * 0/1), so views and readers can trust them.
 */
abstract class SourceDataset implements ImageDataset {
    static final List<String> SPLIT_ORDER = List.of("", TRAIN, VAL, TEST);

    private final String name;
    private final String identity;
    private final List<String> classNames;
    private final boolean multiLabel;
    private final int size;
    /** [size] class indices, or [size, numClasses] 0/1 for multi-label sets. */
    private final int[] labels;
    /** [size] index into SPLIT_ORDER. */
    private final byte[] splits;
    private final List<String> splitNames;

    SourceDataset(String name, String identity, List<String> classNames, boolean multiLabel, int[] labels, byte[] splits) {
        this.name = name;
        this.identity = identity;
        this.classNames = List.copyOf(classNames);
        this.multiLabel = multiLabel;
        this.size = splits.length;
        this.labels = labels;
        this.splits = splits;
        int k = classNames.size();
        if (labels.length != (multiLabel ? (long) size * k : size)) throw new IllegalStateException("labels do not match the item count");
        boolean[] seen = new boolean[SPLIT_ORDER.size()];
        for (byte s : splits) seen[s] = true;
        List<String> names = new ArrayList<>();
        for (int s = 0; s < seen.length; s++) if (seen[s]) names.add(SPLIT_ORDER.get(s));
        this.splitNames = List.copyOf(names);
    }

    /** The code of a split name for {@link #splits}: "", train, val or test. */
    static byte splitCode(String name) {
        int c = SPLIT_ORDER.indexOf(name);
        if (c < 0) throw new IllegalArgumentException("unknown split '" + name + "' (splits are train, val, test)");
        return (byte) c;
    }

    @Override
    public String name() { return name; }

    @Override
    public String identity() { return identity; }

    @Override
    public String view() { return ""; }

    @Override
    public List<String> classNames() { return classNames; }

    @Override
    public boolean multiLabel() { return multiLabel; }

    @Override
    public int size() { return size; }

    @Override
    public int label(int i) {
        if (multiLabel) throw new IllegalStateException(identity + " is multi-label: use labelVector(i)");
        return labels[check(i)];
    }

    @Override
    public int[] labelVector(int i) {
        int k = classNames.size();
        if (multiLabel) return Arrays.copyOfRange(labels, check(i) * k, check(i) * k + k);
        int[] v = new int[k];
        v[labels[check(i)]] = 1;
        return v;
    }

    @Override
    public String split(int i) { return SPLIT_ORDER.get(splits[check(i)]); }

    @Override
    public List<String> splits() { return splitNames; }

    @Override
    public ImageDataset source() { return this; }

    @Override
    public int sourceIndex(int i) { return check(i); }

    int check(int i) {
        if (i < 0 || i >= size) throw new IndexOutOfBoundsException("item " + i + " of " + size);
        return i;
    }

    @Override
    public String toString() {
        return identity + " (" + size + " items, " + classNames.size() + " classes" + (multiLabel ? ", multi-label" : "") + ")";
    }
}
