package io.vlm4j.model.clip;

import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;

/**
 * A {@link WeightSource} over an open {@link WeightStore} (safetensors, single file or sharded): tensors come back as F32
 * host tensors after the store has checked their shape; a missing tensor or a config/checkpoint mismatch is a
 * {@code ModelFormatException} naming the tensor. The store stays owned by the caller and must stay open while towers
 * load from it.
 */
public record StoreWeights(WeightStore store) implements WeightSource {

    @Override
    public Tensor tensor(String name, long... shape) throws IOException {
        return store.load(name, shape);
    }

    @Override
    public boolean contains(String name) { return store.contains(name); }

    @Override
    public String describe() { return store.toString(); }
}
