package io.vlm4j.cli;

import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;

/** Runs a tower chunk by chunk so that long runs can report progress (the model chunks the same way inside). */
final class Chunks {
    private Chunks() {}

    /** Text embeddings F32 [N, E] of ids I32 [N, L]; the caller owns the result. */
    static Tensor encodeTexts(ClipModel clip, Tensor ids, boolean normalize, int batch, Progress bar) {
        long n = ids.dim(0), len = ids.dim(1);
        long e = clip.text().orElseThrow(() -> new IllegalArgumentException("the model has no text tower")).projectionDim();
        Tensor out = Tensor.allocate(DType.F32, n, e);
        try {
            for (long i = 0; i < n; i += batch) {
                long c = Math.min(batch, n - i);
                try (Tensor part = clip.encodeTexts(ids.view(i * len, c, len), normalize)) {
                    out.view(i * e, c, e).copyFrom(part);
                }
                bar.step(c);
            }
            return out;
        } catch (RuntimeException ex) {
            out.close();
            throw ex;
        }
    }

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
