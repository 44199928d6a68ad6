package io.vlm4j.train;

import io.vlm4j.tensor.Tensor;

/**
 * A trainable tensor and its gradient, both F32 on the backend's device and of one shape: the optimizer's view of a
 * LoRA matrix, a classification head or the temperature. {@code name} is the key it is saved under (PEFT names for LoRA).
 * The model or head that owns the tensors closes them.
 */
public record Parameter(String name, Tensor value, Tensor grad, boolean decay) {
    public Parameter {
        if (value.numel() != grad.numel()) throw new IllegalArgumentException(name + ": gradient " + grad + " does not match " + value);
    }
}
