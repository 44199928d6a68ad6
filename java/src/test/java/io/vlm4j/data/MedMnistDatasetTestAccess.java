package io.vlm4j.data;

import java.io.IOException;
import java.nio.file.Path;

/** Lets tests in other packages write the MedMNIST files of {@link MedMnistDatasetTest}. */
public final class MedMnistDatasetTestAccess {
    private MedMnistDatasetTestAccess() {}

    public static Path write(Path file, boolean rgb, boolean deflate) throws IOException {
        return MedMnistDatasetTest.write(file, rgb, deflate);
    }
}
