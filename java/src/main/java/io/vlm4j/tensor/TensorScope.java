package io.vlm4j.tensor;

import java.util.ArrayDeque;
import java.util.Deque;

/** Owns the tensors it allocates and frees them all, newest first, when closed. Not thread-safe. */
public final class TensorScope implements AutoCloseable {
    private final Deque<Tensor> owned = new ArrayDeque<>();
    private final Device device;

    /** A scope allocating host tensors. */
    public TensorScope() {
        this(Device.CPU);
    }

    /** A scope allocating on {@code device} (a backend's scratch memory). */
    public TensorScope(Device device) {
        this.device = device;
    }

    public Tensor allocate(DType dtype, long... shape) {
        return track(Tensor.allocate(device, dtype, shape));
    }

    public Tensor f32(long... shape) {
        return allocate(DType.F32, shape);
    }

    /** Takes ownership of {@code t}. */
    public Tensor track(Tensor t) {
        owned.push(t);
        return t;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!owned.isEmpty()) {
            try {
                owned.pop().close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
