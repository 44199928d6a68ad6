package io.vlm4j.data;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A CSV manifest (UTF-8, {@link Csv} quoting): a header naming the columns {@code path}, {@code label} (or
 * {@code labels}) and optionally {@code split}, in any order; other columns are ignored. Paths are relative to the
 * CSV's folder or absolute. A label is a class name or a class index; a multi-label set (column {@code labels}, or
 * any label holding {@code |}) joins names or indices with {@code |}, an empty field meaning no class.
 * Without a class-names list the classes are "0".."max" when every label is an integer, else the names found, sorted.
 * Split values: train, val (valid, validation), test, or empty.
 */
public final class CsvDataset {
    private static final Pattern INTEGER = Pattern.compile("-?\\d{1,9}");
    private static final Map<String, String> SPLITS = Map.of("", "", "train", ImageDataset.TRAIN, "val", ImageDataset.VAL,
            "valid", ImageDataset.VAL, "validation", ImageDataset.VAL, "test", ImageDataset.TEST);

    private CsvDataset() {}

    /** @param classNames the classes in label order; empty: from the labels (see the class comment) */
    public static ImageDataset open(Path csv, Optional<List<String>> classNames) throws IOException {
        byte[] bytes = Files.readAllBytes(csv);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new DatasetFormatException(csv, "not valid UTF-8 text");
        }
        if (text.startsWith("\uFEFF")) text = text.substring(1);
        List<Csv.Row> rows = new ArrayList<>(Csv.parse(csv, text));
        rows.removeIf(r -> r.fields().size() == 1 && r.fields().get(0).isBlank());  // blank lines
        if (rows.isEmpty()) throw new DatasetFormatException(csv, "empty file (expected a header path,label[,split])");
        List<String> header = rows.remove(0).fields().stream().map(h -> h.strip().toLowerCase(Locale.ROOT)).toList();
        for (int i = 0; i < header.size(); i++) {
            if (header.indexOf(header.get(i)) != i) throw new DatasetFormatException(csv, "header names column '" + header.get(i) + "' twice");
        }
        int pathCol = header.indexOf("path"), labelCol = header.indexOf("label"), labelsCol = header.indexOf("labels");
        int splitCol = header.indexOf("split");
        if (pathCol < 0 || (labelCol < 0) == (labelsCol < 0)) {
            throw new DatasetFormatException(csv, "header must name the columns path and label (or labels), and optionally split; found: "
                    + String.join(",", header));
        }
        if (rows.isEmpty()) throw new DatasetFormatException(csv, "has a header but no rows");
        int lc = labelCol >= 0 ? labelCol : labelsCol;
        boolean multi = labelsCol >= 0 || rows.stream().anyMatch(r -> lc < r.fields().size() && r.fields().get(lc).contains("|"));

        Path base = csv.toAbsolutePath().getParent();
        List<Path> files = new ArrayList<>();
        List<List<String>> tokens = new ArrayList<>();
        byte[] splits = new byte[rows.size()];
        for (int r = 0; r < rows.size(); r++) {
            Csv.Row row = rows.get(r);
            List<String> f = row.fields();
            String at = "line " + row.line() + ": ";
            if (f.size() != header.size()) {
                throw new DatasetFormatException(csv, at + f.size() + " fields, the header has " + header.size());
            }
            String p = f.get(pathCol).strip();
            if (p.isEmpty()) throw new DatasetFormatException(csv, at + "empty path");
            Path file;
            try {
                file = base.resolve(p);
            } catch (InvalidPathException e) {
                throw new DatasetFormatException(csv, at + "invalid path '" + p + "'");
            }
            if (!Files.isRegularFile(file)) throw new DatasetFormatException(csv, at + "no such image file '" + p + "' (" + file + ")");
            files.add(file);
            String s = splitCol < 0 ? "" : f.get(splitCol).strip().toLowerCase(Locale.ROOT);
            if (!SPLITS.containsKey(s)) {
                throw new DatasetFormatException(csv, at + "unknown split '" + f.get(splitCol).strip() + "' (train, val, test or empty)");
            }
            splits[r] = SourceDataset.splitCode(SPLITS.get(s));
            String label = f.get(lc).strip();
            List<String> t = new ArrayList<>();
            if (multi) {
                if (!label.isEmpty()) for (String x : label.split("\\|", -1)) t.add(x.strip());
                if (t.contains("")) throw new DatasetFormatException(csv, at + "empty class name in '" + label + "'");
            } else {
                if (label.isEmpty()) throw new DatasetFormatException(csv, at + "empty label");
                t.add(label);
            }
            tokens.add(t);
        }

        List<String> names = classNames.orElseGet(() -> inferClasses(tokens));
        Map<String, Integer> index = new HashMap<>();
        for (int c = 0; c < names.size(); c++) index.put(names.get(c), c);
        int k = names.size();
        int[] labels = new int[multi ? rows.size() * k : rows.size()];
        for (int r = 0; r < rows.size(); r++) {
            for (String t : tokens.get(r)) {
                int c = resolve(csv, "line " + rows.get(r).line() + ": ", t, index, names);
                if (multi) labels[r * k + c] = 1;
                else labels[r] = c;
            }
        }
        String identity = "csv:" + Fingerprints.canonical(csv) + " sha256=" + Fingerprints.sha256(bytes) + " files=" + files.size()
                + " files-sha256=" + Fingerprints.files(base, files) + " classes=" + Fingerprints.classes(names);
        return new FileDataset(Fingerprints.stem(csv), identity, names, multi, labels, splits, files);
    }

    /** "0".."max" when every label is a non-negative integer, else the distinct names, sorted. */
    private static List<String> inferClasses(List<List<String>> tokens) {
        boolean allIntegers = true;
        int max = -1;
        TreeSet<String> found = new TreeSet<>();
        for (List<String> row : tokens) {
            for (String t : row) {
                found.add(t);
                if (INTEGER.matcher(t).matches() && !t.startsWith("-")) max = Math.max(max, Integer.parseInt(t));
                else allIntegers = false;
            }
        }
        return allIntegers ? ClassNames.numbered(max + 1) : List.copyOf(found);
    }

    /** A class name, else an integer index, else an error. */
    private static int resolve(Path csv, String at, String token, Map<String, Integer> index, List<String> names)
            throws DatasetFormatException {
        Integer c = index.get(token);
        if (c != null) return c;
        if (INTEGER.matcher(token).matches()) {
            int v = Integer.parseInt(token);
            if (v < 0 || v >= names.size()) {
                throw new DatasetFormatException(csv, at + "label index " + v + " is out of range (" + names.size() + " classes: 0.."
                        + (names.size() - 1) + ")");
            }
            return v;
        }
        String shown = names.size() <= 20 ? String.join(", ", names) : String.join(", ", names.subList(0, 20)) + ", ...";
        throw new DatasetFormatException(csv, at + "unknown class '" + token + "' (classes: " + shown + ")");
    }
}
