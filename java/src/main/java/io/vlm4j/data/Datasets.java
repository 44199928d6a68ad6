package io.vlm4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Where datasets come from: {@code folder:PATH}, {@code csv:FILE}, {@code medmnist:FILE.npz}, {@code idx:DIR}, or a
 * bare path whose kind is recognized (a folder of IDX files, any other folder, a .csv, an .npz).
 */
public final class Datasets {
    private static final Set<String> KINDS = Set.of("folder", "csv", "medmnist", "idx");

    private Datasets() {}

    public static ImageDataset open(String spec) throws IOException {
        return open(spec, Optional.empty());
    }

    /**
     * @param classNamesFile class names, one per line, in label order; empty: each format's default (folder names,
     *                       the CSV's labels, "0".."K-1", Fashion-MNIST's or the digits)
     */
    public static ImageDataset open(String spec, Optional<Path> classNamesFile) throws IOException {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("empty dataset spec");
        Optional<List<String>> names = classNamesFile.isPresent() ? Optional.of(ClassNames.read(classNamesFile.get())) : Optional.empty();
        int colon = spec.indexOf(':');
        String kind = colon > 1 ? spec.substring(0, colon).toLowerCase(Locale.ROOT) : "";
        if (KINDS.contains(kind)) {
            Path path = Path.of(spec.substring(colon + 1));
            return switch (kind) {
                case "folder" -> FolderDataset.open(path, names);
                case "csv" -> CsvDataset.open(existing(path), names);
                case "medmnist" -> MedMnistDataset.open(path, names);
                default -> IdxDataset.open(path, names);
            };
        }
        Path path = Path.of(spec);
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString(), null, "dataset not found");
        if (Files.isDirectory(path)) return IdxDataset.looksLikeIdx(path) ? IdxDataset.open(path, names) : FolderDataset.open(path, names);
        String n = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".csv")) return CsvDataset.open(path, names);
        if (n.endsWith(".npz")) return MedMnistDataset.open(path, names);
        throw new DatasetFormatException(path, "cannot tell the dataset format: expected a folder, a .csv or a .npz "
                + "(or name it: folder:, csv:, medmnist:, idx:)");
    }

    private static Path existing(Path p) throws NoSuchFileException {
        if (!Files.exists(p)) throw new NoSuchFileException(p.toString(), null, "dataset file does not exist");
        return p;
    }
}
