package io.vlm4j.model;

/**
 * What a tower's training forward kept for its backward (activations, or only the layer inputs with activation
 * checkpointing); closing it frees them. A tape belongs to the tower that wrote it.
 */
public interface Tape extends AutoCloseable {

    @Override
    void close();

    /** {@code tape} as the tower's own tape class; an error names {@code op} when it came from another tower. */
    static <T extends Tape> T own(Class<T> type, Tape tape, String op) {
        if (!type.isInstance(tape)) {
            throw new IllegalArgumentException(op + ": the tape is a " + (tape == null ? "null" : tape.getClass().getName())
                    + ", not one this tower's forwardTrain wrote");
        }
        return type.cast(tape);
    }
}
