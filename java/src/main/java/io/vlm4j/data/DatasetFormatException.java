package io.vlm4j.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A dataset file or folder that cannot be used as it is. The message starts with the file and says what is wrong,
 * e.g. {@code labels.csv: line 7: unknown class 'pneumonai' (classes: normal, pneumonia)}.
 */
public class DatasetFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public DatasetFormatException(Path file, String problem) {
        super(file + ": " + problem);
    }
}
