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
}
