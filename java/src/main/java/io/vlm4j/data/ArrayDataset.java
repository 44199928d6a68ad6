package io.vlm4j.data;

import io.vlm4j.image.ImageDecoder;
import io.vlm4j.io.LargeBytes;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A source whose images are 8-bit arrays in memory or mapped from a file (MedMNIST, IDX): one block of
 * [n, H, W] gray or [n, H, W, 3] RGB pixels per split, items numbered through the blocks in order.
 */
final class ArrayDataset extends SourceDataset {
    /** One split's pixels: {@code count} images of height x width x channels bytes each, from {@code offset}. */
    record Block(LargeBytes data, long offset, int count, int height, int width, int channels) {
        Block {
            if (channels != 1 && channels != 3) throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
            if (offset + (long) count * height * width * channels > data.length()) throw new IllegalArgumentException("block exceeds its data");
        }
    }

    private final List<Block> blocks;
    /** [blocks + 1] the first item of each block. */
    private final int[] starts;

    ArrayDataset(String name, String identity, List<String> classNames, boolean multiLabel, int[] labels, byte[] splits,
                 List<Block> blocks) {
        super(name, identity, classNames, multiLabel, labels, splits);
        this.blocks = List.copyOf(blocks);
        this.starts = new int[blocks.size() + 1];
        for (int b = 0; b < blocks.size(); b++) starts[b + 1] = starts[b] + blocks.get(b).count();
        if (starts[blocks.size()] != splits.length) throw new IllegalStateException("blocks do not match the item count");
    }

    @Override
    public boolean fileBased() { return false; }

    @Override
    public Optional<Path> file(int i) {
        check(i);
        return Optional.empty();
    }

    /** RGB [H, W, 3]; a gray image has its value replicated, as Pillow's convert("RGB") does for mode "L". */
    @Override
    public ImageDecoder.Decoded image(int i) {
        check(i);
        int b = 0;
        while (starts[b + 1] <= i) b++;
        Block k = blocks.get(b);
        int pixels = k.height() * k.width();
        long at = k.offset() + (long) (i - starts[b]) * pixels * k.channels();
        byte[] rgb = new byte[pixels * 3];
        if (k.channels() == 3) {
            k.data().get(at, rgb, 0, rgb.length);
        } else {
            k.data().get(at, rgb, 0, pixels);
            for (int p = pixels - 1; p >= 0; p--) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = rgb[p];
        }
        return new ImageDecoder.Decoded(rgb, k.height(), k.width(), 3, false);
    }
}
