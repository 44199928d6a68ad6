package io.vlm4j.model;

import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.TensorScope;
import java.util.function.Consumer;

/**
 * What a tower's training forward kept for its backward (activations, or only the layer inputs with activation
 * checkpointing), in device memory the tape owns; closing it frees them. A tape belongs to the tower that wrote it:
 * each tower subclasses it with the tensors its backward reads.
 */
public abstract class Tape implements AutoCloseable {
    private final TensorScope scope;

    protected Tape(Device device) {
        this.scope = new TensorScope(device);
    }

    /** Where the tape's tensors live (allocate there what the backward reads). */
    public final TensorScope scope() { return scope; }

    @Override
    public void close() { scope.close(); }

    /** {@code fill} run on a fresh {@code tape}, which is returned, or closed when {@code fill} throws. */
    public static <T extends Tape> T record(T tape, Consumer<T> fill) {
        try {
            fill.accept(tape);
            return tape;
        } catch (RuntimeException e) {
            tape.close();
            throw e;
        }
    }

    /** {@code tape} as the tower's own tape class; an error names {@code op} when it came from another tower. */
    public static <T extends Tape> T own(Class<T> type, Tape tape, String op) {
        if (!type.isInstance(tape)) {
            throw new IllegalArgumentException(op + ": the tape is a " + (tape == null ? "null" : tape.getClass().getName())
                    + ", not one this tower's forwardTrain wrote");
        }
        return type.cast(tape);
    }
}
