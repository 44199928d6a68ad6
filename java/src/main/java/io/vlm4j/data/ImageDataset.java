package io.vlm4j.data;

import io.vlm4j.image.ImageDecoder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.IntPredicate;

/**
 * A labelled image dataset: items {@code 0 .. size()-1}, each with a label (one class, or a 0/1 vector over the
 * classes for multi-label sets), a split name, and an image that is either a file ({@link #file}, decoded by the usual
 * image path) or 8-bit RGB pixels held in memory ({@link #image}). Sources are opened by {@link Datasets#open}; views
 * ({@link #split}, {@link #subsample}, {@link #kShot}, {@link #filter}) select items of their source without copying.
 *
 * <p>{@link #source()} and {@link #sourceIndex} tie every item of a view back to its source, so that a selection is
 * fully described by {@link #identity()} plus the source indices (the embedding cache's key).
 */
public interface ImageDataset {
    String TRAIN = "train", VAL = "val", TEST = "test";

    /** A short name for reports: the source's file or folder name, e.g. {@code chestmnist_224}. */
    String name();

    /**
     * What the source is, stable while its files do not change: kind, canonical path, sizes and modification times
     * (or CRCs) of the files read. Views share their source's identity.
     */
    String identity();

    /** The selection a view makes, e.g. {@code split(test) | kShot(5, seed 0)}; "" for a source. */
    String view();

    List<String> classNames();

    default int numClasses() { return classNames().size(); }

    /** Items may have any number of classes (0/1 per class); {@link #label} is then not defined. */
    boolean multiLabel();

    int size();

    /** The class of item {@code i}; an IllegalStateException for a multi-label dataset. */
    int label(int i);

    /** 0/1 per class: the labels of a multi-label item, one-hot for a single-label one. */
    int[] labelVector(int i);

    /** "train", "val", "test", or "" when the source has no splits. */
    String split(int i);

    /** The split names present, in train/val/test order. */
    List<String> splits();

    /** True when every item is an image file ({@link #file} present); false when the pixels are in memory. */
    boolean fileBased();

    /** The image file of item {@code i}, for file-based sets. */
    Optional<Path> file(int i);

    /**
     * The pixels of item {@code i}, [H, W, C] bytes: RGB (C = 3) for in-memory sets, gray replicated as Pillow's
     * {@code convert("RGB")} does; a file-based set decodes the file (C as stored).
     */
    ImageDecoder.Decoded image(int i) throws IOException;

    /** The dataset this is a view of; itself for a source. */
    ImageDataset source();

    /** The index in {@link #source()} of item {@code i}. */
    int sourceIndex(int i);

    /** The items of one split; an error listing the splits there are when it has none. */
    default ImageDataset split(String name) {
        return DatasetView.split(this, name);
    }

    /**
     * {@code n} items drawn without replacement, stratified by class for single-label sets (each class keeps its share,
     * largest remainders rounded up), uniformly for multi-label ones; the same seed gives the same items.
     */
    default ImageDataset subsample(int n, long seed) {
        return DatasetView.subsample(this, n, seed);
    }

    /**
     * {@code k} items of every class (single-label sets), the first k of a per-class permutation fixed by the seed (so
     * kShot(k) is contained in kShot(k + 1) for one seed); an error naming the class when one has fewer than k.
     */
    default ImageDataset kShot(int k, long seed) {
        return DatasetView.kShot(this, k, seed);
    }

    /** The items {@code i} for which {@code keep.test(i)} holds (indices of this dataset). */
    default ImageDataset filter(IntPredicate keep) {
        return DatasetView.filter(this, keep, "filter");
    }
}
