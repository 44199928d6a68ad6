package io.vlm4j.cli;

import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.Tensor;

/** Image files to embeddings chunk by chunk: preprocessing and encoding stay bounded in memory and report progress. */
final class Chunks {
    private Chunks() {}

    /** Image embeddings of the files that could be read, in order, and the skipped ones with their reasons. */
    record EncodedImages(Tensor embeddings, java.util.List<java.nio.file.Path> kept,
                         java.util.Map<java.nio.file.Path, String> skipped) implements AutoCloseable {
        @Override
        public void close() { embeddings.close(); }
    }

    /**
     * Preprocesses and encodes {@code batch} files at a time (memory stays bounded however many files there are).
     * skipBad: unreadable files are reported in the result; otherwise the first one fails the run, naming it.
     */
    static EncodedImages encodeImages(ClipModel clip, io.vlm4j.image.ImagePreprocessor pre, java.util.List<java.nio.file.Path> files,
                                      int batch, boolean skipBad, boolean normalize) throws java.io.IOException {
        long e = clip.vision().orElseThrow(() -> new IllegalArgumentException("the model has no image tower")).projectionDim();
        java.util.List<java.nio.file.Path> kept = new java.util.ArrayList<>();
        java.util.Map<java.nio.file.Path, String> skipped = new java.util.LinkedHashMap<>();
        java.util.List<float[]> rows = new java.util.ArrayList<>();
        try (Progress bar = Progress.start("encode-images", files.size(), true)) {
            for (int i = 0; i < files.size(); i += batch) {
                java.util.List<java.nio.file.Path> part = files.subList(i, Math.min(files.size(), i + batch));
                try (io.vlm4j.image.ImagePreprocessor.Result r = pre.preprocess(part, skipBad)) {
                    kept.addAll(r.kept());
                    skipped.putAll(r.skipped());
                    if (!r.kept().isEmpty()) {
                        try (Tensor emb = clip.encodeImages(r.pixels(), normalize)) {
                            float[] flat = emb.toFloatArray();
                            for (int k = 0; k < r.kept().size(); k++) {
                                rows.add(java.util.Arrays.copyOfRange(flat, (int) (k * e), (int) ((k + 1) * e)));
                            }
                        }
                    }
                }
                bar.step(part.size());
            }
        }
        float[] all = new float[Math.toIntExact(rows.size() * e)];
        for (int k = 0; k < rows.size(); k++) System.arraycopy(rows.get(k), 0, all, (int) (k * e), (int) e);
        return new EncodedImages(Tensor.of(all, rows.size(), e), kept, skipped);
    }
}
