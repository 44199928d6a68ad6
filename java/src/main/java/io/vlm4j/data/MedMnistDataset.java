package io.vlm4j.data;

import io.vlm4j.io.Npz;
import io.vlm4j.io.NpyHeader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A MedMNIST {@code .npz} (medmnist.com; v2 and MedMNIST+ at 28, 64, 128 and 224 px): arrays
 * {@code {train,val,test}_images}, uint8 [N, H, W] (gray) or [N, H, W, 3] (RGB), and {@code {train,val,test}_labels},
 * integers [N, 1] (one class per image) or [N, L] 0/1 (multi-label, e.g. ChestMNIST's 14 findings). Splits missing
 * from the file are left out, but an images array needs its labels and the other way round. The pixels stay in the
 * archive (stored entries are mapped) or are inflated once; labels are read into memory.
 */
public final class MedMnistDataset {
    private MedMnistDataset() {}

    /** @param classNames the classes in label order; empty: "0".."K-1" */
    public static ImageDataset open(Path npz, Optional<List<String>> classNames) throws IOException {
        if (!Files.exists(npz)) throw new NoSuchFileException(npz.toString(), null, "MedMNIST file does not exist");
        try (Npz z = Npz.open(npz)) {
            List<ArrayDataset.Block> blocks = new ArrayList<>();
            List<long[]> labelArrays = new ArrayList<>();
            List<String> splitNames = new ArrayList<>();
            int width = -1;  // labels per image: 1 (a class index) or L (0/1 per class)
            for (String split : List.of(ImageDataset.TRAIN, ImageDataset.VAL, ImageDataset.TEST)) {
                String img = split + "_images", lab = split + "_labels";
                if (!z.contains(img) && !z.contains(lab)) continue;
                if (!z.contains(img) || !z.contains(lab)) {
                    throw new DatasetFormatException(npz, "has " + (z.contains(img) ? img : lab) + " but no " + (z.contains(img) ? lab : img)
                            + " array (arrays: " + String.join(", ", z.arrays()) + ")");
                }
                Npz.Uint8Array images = z.readUint8(img);
                long[] shape = images.header().shape();
                boolean rgb = shape.length == 4 && shape[3] == 3;
                if (!(shape.length == 3 || rgb) || shape[1] < 1 || shape[2] < 1 || shape[1] > 1 << 15 || shape[2] > 1 << 15) {
                    throw new DatasetFormatException(npz, img + " has shape " + Arrays.toString(shape) + "; expected [N, H, W] or [N, H, W, 3]");
                }
                NpyHeader lh = z.header(lab);
                long[] ls = lh.shape();
                if (ls.length == 0 || ls.length > 2) {
                    throw new DatasetFormatException(npz, lab + " has shape " + Arrays.toString(ls) + "; expected [N, 1] or [N, L]");
                }
                if (ls[0] != shape[0]) {
                    throw new DatasetFormatException(npz, img + " holds " + shape[0] + " images but " + lab + " holds " + ls[0] + " labels");
                }
                int w = ls.length == 1 ? 1 : Math.toIntExact(ls[1]);
                if (w < 1) throw new DatasetFormatException(npz, lab + " has shape " + Arrays.toString(ls) + ": no label columns");
                if (width >= 0 && w != width) {
                    throw new DatasetFormatException(npz, lab + " has " + w + " label columns but the other splits have " + width);
                }
                width = w;
                if (shape[0] > Integer.MAX_VALUE - 8) throw new DatasetFormatException(npz, img + ": too many images");
                blocks.add(new ArrayDataset.Block(images.data(), 0, (int) shape[0], (int) shape[1], (int) shape[2], rgb ? 3 : 1));
                labelArrays.add(z.readInt64(lab));
                splitNames.add(split);
            }
            if (blocks.isEmpty()) {
                throw new DatasetFormatException(npz, "not a MedMNIST file: no train_images/train_labels, val_* or test_* arrays (arrays: "
                        + String.join(", ", z.arrays()) + ")");
            }
            boolean multi = width > 1;
            int k = multi ? width : classCount(npz, labelArrays, splitNames, classNames);
            if (multi && classNames.isPresent() && classNames.get().size() != width) {
                throw new DatasetFormatException(npz, "multi-label arrays have " + width + " columns but " + classNames.get().size()
                        + " class names were given");
            }
            List<String> names = classNames.orElse(ClassNames.numbered(k));
            int n = blocks.stream().mapToInt(ArrayDataset.Block::count).sum();
            int[] labels = new int[multi ? Math.multiplyExact(n, k) : n];
            byte[] splits = new byte[n];
            int at = 0;
            for (int s = 0; s < blocks.size(); s++) {
                long[] v = labelArrays.get(s);
                String lab = splitNames.get(s) + "_labels";
                for (int j = 0; j < v.length; j++) {
                    if (multi ? v[j] != 0 && v[j] != 1 : v[j] < 0 || v[j] >= k) {
                        String where = multi ? "[" + j / width + ", " + j % width + "]" : "[" + j + "]";
                        throw new DatasetFormatException(npz, lab + where + " = " + v[j] + (multi ? " is not 0 or 1 (multi-label)"
                                : " is out of range (" + k + " classes: 0.." + (k - 1) + ")"));
                    }
                    labels[at * (multi ? k : 1) + j] = (int) v[j];
                }
                Arrays.fill(splits, at, at + blocks.get(s).count(), SourceDataset.splitCode(splitNames.get(s)));
                at += blocks.get(s).count();
            }
            String identity = "medmnist:" + Fingerprints.canonical(npz) + " " + Fingerprints.stat(npz)
                    + " entries-sha256=" + Fingerprints.sha256(z.fingerprint()) + " classes=" + Fingerprints.classes(names);
            return new ArrayDataset(Fingerprints.stem(npz), identity, names, multi, labels, splits, blocks);
        }
    }

    /** K: the number of class names given, else the largest label + 1. */
    private static int classCount(Path npz, List<long[]> labels, List<String> splits, Optional<List<String>> classNames)
            throws DatasetFormatException {
        if (classNames.isPresent()) return classNames.get().size();
        long max = -1;
        for (int s = 0; s < labels.size(); s++) {
            for (int j = 0; j < labels.get(s).length; j++) {
                long v = labels.get(s)[j];
                if (v < 0 || v > 100_000) {
                    throw new DatasetFormatException(npz, splits.get(s) + "_labels[" + j + "] = " + v + " is not a class index (0..100000)");
                }
                max = Math.max(max, v);
            }
        }
        return (int) max + 1;
    }
}
