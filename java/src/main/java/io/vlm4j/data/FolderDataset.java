package io.vlm4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * An image folder per class (torchvision's {@code ImageFolder} layout): {@code ROOT/<class>/**.<ext>}, or with splits
 * {@code ROOT/{train,val,test}/<class>/**.<ext>} ({@code valid} and {@code validation} are taken as val). Classes are
 * the folder names sorted (or the order of a class-names list); files are taken recursively below each class folder,
 * sorted, hidden files skipped; extensions png, jpg, jpeg, bmp, tif, tiff, webp (any case).
 */
public final class FolderDataset {
    static final Set<String> EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp");
    private static final Map<String, String> SPLIT_FOLDERS = Map.of("train", ImageDataset.TRAIN, "val", ImageDataset.VAL,
            "valid", ImageDataset.VAL, "validation", ImageDataset.VAL, "test", ImageDataset.TEST);

    private FolderDataset() {}

    /** @param classNames the classes in label order; empty: the folder names, sorted */
    public static ImageDataset open(Path root, Optional<List<String>> classNames) throws IOException {
        if (!Files.exists(root)) throw new NoSuchFileException(root.toString(), null, "dataset folder does not exist");
        if (!Files.isDirectory(root)) throw new DatasetFormatException(root, "not a folder");
        List<Path> top = subfolders(root);
        List<Path> splitDirs = top.stream().filter(d -> SPLIT_FOLDERS.containsKey(name(d).toLowerCase(Locale.ROOT))).toList();
        // split -> class folders; "" when the root holds the class folders itself
        Map<String, List<Path>> layout = new LinkedHashMap<>();
        if (splitDirs.isEmpty()) {
            layout.put("", top);
        } else {
            if (splitDirs.size() != top.size()) {
                String cls = top.stream().filter(d -> !splitDirs.contains(d)).map(FolderDataset::name).findFirst().orElseThrow();
                throw new DatasetFormatException(root, "mixes split folders (" + name(splitDirs.get(0)) + ") and class folders ("
                        + cls + "): use ROOT/<class>/ or ROOT/{train,val,test}/<class>/");
            }
            for (String split : SourceDataset.SPLIT_ORDER) {
                for (Path d : splitDirs) {
                    if (!SPLIT_FOLDERS.get(name(d).toLowerCase(Locale.ROOT)).equals(split)) continue;
                    if (layout.containsKey(split)) {
                        throw new DatasetFormatException(root, "two folders for split '" + split + "' (" + name(d) + " and another)");
                    }
                    layout.put(split, subfolders(d));
                }
            }
        }
        TreeSet<String> found = new TreeSet<>();
        for (List<Path> classes : layout.values()) for (Path c : classes) found.add(name(c));
        if (found.isEmpty()) throw new DatasetFormatException(root, "holds no class folders (expected ROOT/<class>/<image files>)");
        List<String> names = classNames.orElse(List.copyOf(found));
        for (String f : found) {
            if (!names.contains(f)) {
                throw new DatasetFormatException(root, "class folder '" + f + "' is not in the class names (" + String.join(", ", names) + ")");
            }
        }
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<Byte> splits = new ArrayList<>();
        for (Map.Entry<String, List<Path>> e : layout.entrySet()) {
            for (Path classDir : e.getValue()) {
                List<Path> images = images(classDir);
                if (images.isEmpty()) {
                    throw new DatasetFormatException(classDir, "class folder holds no image file ("
                            + String.join(", ", new TreeSet<>(EXTENSIONS)) + ")");
                }
                for (Path f : images) {
                    files.add(f);
                    labels.add(names.indexOf(name(classDir)));
                    splits.add(SourceDataset.splitCode(e.getKey()));
                }
            }
        }
        int[] lab = labels.stream().mapToInt(Integer::intValue).toArray();
        byte[] spl = new byte[splits.size()];
        for (int i = 0; i < spl.length; i++) spl[i] = splits.get(i);
        String identity = "folder:" + Fingerprints.canonical(root) + " files=" + files.size() + " sha256=" + Fingerprints.files(root, files)
                + " classes=" + Fingerprints.classes(names);
        return new FileDataset(name(Fingerprints.canonical(root)), identity, names, false, lab, spl, files);
    }

    private static List<Path> subfolders(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).filter(p -> !name(p).startsWith(".")).sorted().toList();
        }
    }

    private static List<Path> images(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(p -> !hidden(dir, p)).filter(p -> EXTENSIONS.contains(extension(p))).sorted().toList();
        }
    }

    /** A name starting with '.' anywhere below dir (".DS_Store", ".ipynb_checkpoints/..."). */
    private static boolean hidden(Path dir, Path p) {
        for (Path part : dir.relativize(p)) if (part.toString().startsWith(".")) return true;
        return false;
    }

    static String extension(Path f) {
        String n = name(f);
        int dot = n.lastIndexOf('.');
        return dot < 0 ? "" : n.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    private static String name(Path p) {
        return p.getFileName().toString();
    }
}
