package io.vlm4j.model.clip;

import io.vlm4j.tensor.Tensor;
import java.io.IOException;

/** Where a tower gets its parameters: a checkpoint ({@code WeightStore}) or seeded random values (benchmarks). */
public interface WeightSource {

    /** An F32 tensor named {@code name} (HF key) that must have {@code shape}; the caller owns it. */
    Tensor tensor(String name, long... shape) throws IOException;

    boolean contains(String name);

    /** A short description for messages, e.g. the file name. */
    String describe();
}
