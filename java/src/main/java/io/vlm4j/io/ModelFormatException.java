package io.vlm4j.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A model, config or array file that cannot be used as it is. The message always starts with the file and then
 * says what is wrong, e.g. {@code model.safetensors: tensor 'x' data_offsets [10, 30) overlap tensor 'y' [20, 40)}.
 */
public class ModelFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public ModelFormatException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public ModelFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
