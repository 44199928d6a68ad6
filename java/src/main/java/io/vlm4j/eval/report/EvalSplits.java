package io.vlm4j.eval.report;

import io.vlm4j.data.ImageDataset;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The train / validation / test items an evaluation uses. The dataset's own splits are used when present; a missing
 * validation split is carved from train (a seeded stratified 10%, at least one item per class where possible) and a
 * dataset without splits is divided 60/20/20 the same way. Optional caps subsample each split (stratified, seeded).
 */
public record EvalSplits(ImageDataset train, ImageDataset val, ImageDataset test, String note) {

    /** Caps per split (<= 0: no cap) and the seed of every random choice. */
    public record Caps(int maxTrain, int maxVal, int maxTest, long seed) {
        public static Caps none(long seed) { return new Caps(0, 0, 0, seed); }
    }

    public static EvalSplits of(ImageDataset all, Caps caps) {
        List<String> splits = all.splits();
        ImageDataset train, val, test;
        String note;
        if (splits.contains(ImageDataset.TRAIN) && splits.contains(ImageDataset.TEST)) {
            test = all.split(ImageDataset.TEST);
            ImageDataset fullTrain = all.split(ImageDataset.TRAIN);
            if (splits.contains(ImageDataset.VAL)) {
                train = fullTrain;
                val = all.split(ImageDataset.VAL);
                note = "the dataset's train / val / test splits";
            } else {
                ImageDataset[] parts = carve(fullTrain, 0.10, caps.seed());
                train = parts[0];
                val = parts[1];
                note = "the dataset's train / test splits; validation = a seeded stratified 10% of train";
            }
        } else {
            ImageDataset[] first = carve(all, 0.20, caps.seed());        // 20% test
            ImageDataset[] second = carve(first[0], 0.25, caps.seed() + 1);  // 25% of the remaining 80% = 20% val
            train = second[0];
            val = second[1];
            test = first[1];
            note = "no splits in the dataset: a seeded stratified 60/20/20 division";
        }
        train = cap(train, caps.maxTrain(), caps.seed());
        val = cap(val, caps.maxVal(), caps.seed());
        test = cap(test, caps.maxTest(), caps.seed());
        if (train.size() == 0 || val.size() == 0 || test.size() == 0) {
            throw new IllegalArgumentException("dataset " + all.name() + ": a split is empty (train " + train.size() + ", val "
                    + val.size() + ", test " + test.size() + ")");
        }
        return new EvalSplits(train, val, test, note);
    }

    private static ImageDataset cap(ImageDataset d, int max, long seed) {
        return max > 0 && d.size() > max ? d.subsample(max, seed) : d;
    }

    /** {rest, part}: a stratified seeded fraction of d and the remainder. */
    private static ImageDataset[] carve(ImageDataset d, double fraction, long seed) {
        int n = Math.max(1, (int) Math.round(fraction * d.size()));
        if (n >= d.size()) throw new IllegalArgumentException("dataset " + d.name() + " has too few items (" + d.size() + ") to split");
        ImageDataset part = d.subsample(n, seed);
        Set<Integer> taken = new HashSet<>();
        for (int i = 0; i < part.size(); i++) taken.add(part.sourceIndex(i));
        ImageDataset rest = d.filter(i -> !taken.contains(d.sourceIndex(i)));
        return new ImageDataset[] {rest, part};
    }
}
