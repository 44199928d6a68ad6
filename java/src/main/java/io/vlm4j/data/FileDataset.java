package io.vlm4j.data;

import io.vlm4j.image.ImageDecoder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** A source of image files (folder or CSV manifest): decoded on use by the usual image path. */
final class FileDataset extends SourceDataset {
    private final Path[] files;

    FileDataset(String name, String identity, List<String> classNames, boolean multiLabel, int[] labels, byte[] splits,
                List<Path> files) {
        super(name, identity, classNames, multiLabel, labels, splits);
        this.files = files.toArray(new Path[0]);
        if (this.files.length != splits.length) throw new IllegalStateException("files do not match the item count");
    }

    @Override
    public boolean fileBased() { return true; }

    @Override
    public Optional<Path> file(int i) { return Optional.of(files[check(i)]); }

    @Override
    public ImageDecoder.Decoded image(int i) throws IOException { return ImageDecoder.decode(files[check(i)]); }
}
