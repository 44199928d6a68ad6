package io.vlm4j.data;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Class-name lists: read from a file (one name per line) or numbered "0".."K-1". */
public final class ClassNames {
    private ClassNames() {}

    /**
     * The names in {@code file}, one per line (UTF-8, CRLF accepted, surrounding spaces removed, blank lines at the
     * end ignored); an empty or duplicated name is an error naming its line.
     */
    public static List<String> read(Path file) throws IOException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new DatasetFormatException(file, "class names are not valid UTF-8 text");
        }
        if (text.startsWith("\uFEFF")) text = text.substring(1);
        List<String> lines = new ArrayList<>(List.of(text.split("\r?\n", -1)));
        while (!lines.isEmpty() && lines.get(lines.size() - 1).isBlank()) lines.remove(lines.size() - 1);
        if (lines.isEmpty()) throw new DatasetFormatException(file, "holds no class names");
        Set<String> seen = new HashSet<>();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String name = lines.get(i).strip();
            if (name.isEmpty()) throw new DatasetFormatException(file, "line " + (i + 1) + ": empty class name");
            if (!seen.add(name)) throw new DatasetFormatException(file, "line " + (i + 1) + ": class '" + name + "' appears twice");
            out.add(name);
        }
        return List.copyOf(out);
    }

    /** "0", "1", ..., "k-1". */
    public static List<String> numbered(int k) {
        List<String> out = new ArrayList<>(k);
        for (int i = 0; i < k; i++) out.add(Integer.toString(i));
        return List.copyOf(out);
    }
}
