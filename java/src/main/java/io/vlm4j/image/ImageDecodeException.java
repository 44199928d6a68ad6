package io.vlm4j.image;

import java.io.IOException;
import java.nio.file.Path;

/** An image file that cannot be read or decoded; the message names the file and the problem. */
public final class ImageDecodeException extends IOException {
    private final transient Path file;

    public ImageDecodeException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public Path file() { return file; }
}
