package io.vlm4j.data;

import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A dataset's images as model inputs, F32 [n, 3, S, S], a chunk at a time: at most {@code chunk} images are ever held
 * as floats, however large the dataset. Files go through {@link ImagePreprocessor#preprocess(List, boolean)}, in-memory
 * pixels through {@link ImagePreprocessor#preprocessDecoded}; both resize, crop and normalize the same way.
 */
public final class DatasetPixels {
    private DatasetPixels() {}

    /** Receives the pixels of items [start, start + pixels.dim(0)); the tensor is closed when it returns. */
    @FunctionalInterface
    public interface ChunkConsumer {
        void accept(int start, Tensor pixels) throws IOException;
    }

    /** Every item of {@code dataset}, in order, in chunks of {@code chunk}; an unreadable image fails the run, named. */
    public static void forEachChunk(ImageDataset dataset, ImagePreprocessor pre, int chunk, ChunkConsumer sink) throws IOException {
        if (chunk < 1) throw new IllegalArgumentException("chunk must be >= 1, got " + chunk);
        for (int start = 0; start < dataset.size(); start += chunk) {
            try (Tensor pixels = preprocess(dataset, pre, start, Math.min(chunk, dataset.size() - start))) {
                sink.accept(start, pixels);
            }
        }
    }

    /** Items [start, start + n) as F32 [n, 3, S, S]; the caller closes it. */
    public static Tensor preprocess(ImageDataset dataset, ImagePreprocessor pre, int start, int n) throws IOException {
        int[] items = new int[n];
        for (int j = 0; j < n; j++) items[j] = start + j;
        return preprocess(dataset, pre, items);
    }

    /** The given items, in that order (e.g. a shuffled training batch), as F32 [n, 3, S, S]; the caller closes it. */
    public static Tensor preprocess(ImageDataset dataset, ImagePreprocessor pre, int[] items) throws IOException {
        int n = items.length;
        if (dataset.fileBased()) {
            List<Path> files = new ArrayList<>(n);
            for (int i : items) files.add(dataset.file(i).orElseThrow());
            return pre.preprocess(files);
        }
        try {
            return pre.preprocessDecoded(n, j -> {
                try {
                    return dataset.image(items[j]);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IllegalArgumentException e) {  // preprocessDecoded names the index within the chunk
            if (e.getCause() instanceof UncheckedIOException u) throw u.getCause();
            throw new IllegalArgumentException(dataset.identity() + ": items " + (n == 0 ? "" : items[0] + ".." + items[n - 1])
                    + ": " + e.getMessage(), e);
        }
    }
}
