package io.vlm4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/** The CLI's input lists: image paths (files, directories, globs) and text files (.txt or a .json array). */
final class Inputs {
    private Inputs() {}

    /** File extensions taken from a directory or glob (explicitly named files are taken whatever their name). */
    static final Set<String> IMAGE_EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "dib", "tif", "tiff", "webp", "pgm",
            "ppm", "pbm", "pnm");

    /**
     * Expands each argument: a file is taken as is; a directory gives its image files (recursively, sorted); an
     * argument with glob characters ({@code * ? [ {}}) gives the matching image files below its fixed prefix, sorted.
     * A missing file, or a directory or glob that matches nothing, is an error naming it.
     */
    static List<Path> images(List<String> args) throws IOException {
        List<Path> out = new ArrayList<>();
        for (String a : args) {
            if (isGlob(a)) {
                List<Path> hits = glob(a);
                if (hits.isEmpty()) throw new NoSuchFileException(a, null, "no image file matches this pattern");
                out.addAll(hits);
                continue;
            }
            Path p = Path.of(a);
            if (Files.isDirectory(p)) {
                List<Path> hits = walkImages(p, x -> true);
                if (hits.isEmpty()) throw new NoSuchFileException(a, null, "directory holds no image file (" + String.join(", ",
                        new TreeSet<>(IMAGE_EXTENSIONS)) + ")");
                out.addAll(hits);
            } else if (Files.exists(p)) {
                out.add(p);
            } else {
                throw new NoSuchFileException(a);
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException("no images given");
        return out;
    }

    private static boolean isGlob(String a) {
        return a.indexOf('*') >= 0 || a.indexOf('?') >= 0 || a.indexOf('[') >= 0 || a.indexOf('{') >= 0;
    }

    private static List<Path> glob(String pattern) throws IOException {
        // the walk starts at the longest directory prefix without glob characters
        Path p = Path.of(pattern);
        Path root = p.isAbsolute() ? p.getRoot() : Path.of("");
        for (Path part : p) {
            if (isGlob(part.toString())) break;
            root = root.resolve(part);
        }
        if (!Files.isDirectory(root)) return List.of();
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
        Path base = root;
        return walkImages(base, f -> m.matches(p.isAbsolute() ? f.toAbsolutePath() : f));
    }

    private static List<Path> walkImages(Path dir, java.util.function.Predicate<Path> keep) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(f -> IMAGE_EXTENSIONS.contains(extension(f))).filter(keep)
                    .sorted().toList();
        }
    }

    private static String extension(Path f) {
        String n = f.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot < 0 ? "" : n.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    /**
     * Texts from a {@code .json} file (an array of strings) or any other file read as UTF-8 text, one text per line
     * (a trailing newline does not add an empty text; CRLF is accepted).
     */
    static List<String> texts(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        List<String> out = new ArrayList<>();
        if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json")) {
            JsonNode root = StrictJson.parse(file, "texts", bytes);
            if (!root.isArray()) throw new ModelFormatException(file, "expected a JSON array of strings, found " + StrictJson.kind(root));
            for (int i = 0; i < root.size(); i++) {
                JsonNode n = root.get(i);
                if (!n.isTextual()) throw new ModelFormatException(file, "element " + i + " is " + StrictJson.kind(n) + ", not a string");
                out.add(n.asText());
            }
        } else {
            String all;
            try {
                all = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw new ModelFormatException(file, "not valid UTF-8 text");
            }
            if (all.startsWith("\uFEFF")) all = all.substring(1);
            if (all.endsWith("\n")) all = all.substring(0, all.length() - 1);
            if (!all.isEmpty()) {
                for (String line : all.split("\n", -1)) out.add(line.endsWith("\r") ? line.substring(0, line.length() - 1) : line);
            }
        }
        if (out.isEmpty()) throw new ModelFormatException(file, "holds no texts");
        return out;
    }
}
