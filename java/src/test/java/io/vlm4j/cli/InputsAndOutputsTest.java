package io.vlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InputsAndOutputsTest {
    @TempDir
    Path tmp;

    private Path touch(String rel) throws Exception {
        Path p = tmp.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.write(p, new byte[] {1});
        return p;
    }

    @Test
    void imagesFromFilesDirectoriesAndGlobs() throws Exception {
        Path a = touch("d/b.png"), b = touch("d/a.JPG"), c = touch("d/sub/c.tif");
        touch("d/notes.txt");
        Path odd = touch("x/odd.name");
        assertEquals(List.of(b, a, c), Inputs.images(List.of(tmp.resolve("d").toString())), "directory: images only, sorted, recursive");
        assertEquals(List.of(odd), Inputs.images(List.of(odd.toString())), "a named file is taken whatever its extension");
        assertEquals(List.of(a), Inputs.images(List.of(tmp.resolve("d") + "/*.png")));
        assertEquals(List.of(c), Inputs.images(List.of(tmp.resolve("d") + "/**/*.tif")));
        assertThrows(NoSuchFileException.class, () -> Inputs.images(List.of(tmp.resolve("missing.png").toString())));
        assertThrows(NoSuchFileException.class, () -> Inputs.images(List.of(tmp.resolve("d") + "/*.bmp")));
        Files.createDirectories(tmp.resolve("empty"));
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Inputs.images(List.of(tmp.resolve("empty").toString())));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
    }

    @Test
    void textsFromLinesAndJson() throws Exception {
        Path txt = tmp.resolve("t.txt");
        Files.writeString(txt, "\uFEFFfirst\r\nsecond, with comma\n\nlast\n", StandardCharsets.UTF_8);
        assertEquals(List.of("first", "second, with comma", "", "last"), Inputs.texts(txt));
        Path json = tmp.resolve("t.json");
        Files.writeString(json, "[\"a photo\", \"x\\ny\"]");
        assertEquals(List.of("a photo", "x\ny"), Inputs.texts(json));
        Files.writeString(json, "{\"a\": 1}");
        assertThrows(ModelFormatException.class, () -> Inputs.texts(json));
        Files.writeString(json, "[\"a\", 3]");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Inputs.texts(json));
        assertTrue(e.getMessage().contains("element 1"), e.getMessage());
        Files.write(txt, new byte[] {(byte) 0xC3, (byte) 0x28});
        assertThrows(ModelFormatException.class, () -> Inputs.texts(txt));
        Files.write(txt, new byte[0]);
        assertThrows(ModelFormatException.class, () -> Inputs.texts(txt));
    }

    @Test
    void embeddingsAsNpyCsvAndJsonLines() throws Exception {
        try (Tensor t = Tensor.of(new float[] {1.5f, -2f, 0.25f, 3f}, 2, 2)) {
            List<String> names = List.of("a.png", "b, \"quoted\".png");
            Path npy = tmp.resolve("e.npy"), csv = tmp.resolve("e.csv"), jsonl = tmp.resolve("e.jsonl");
            EmbeddingOutput.write(npy, EmbeddingOutput.format(null, npy), t, names);
            EmbeddingOutput.write(csv, EmbeddingOutput.format(null, csv), t, names);
            EmbeddingOutput.write(jsonl, EmbeddingOutput.format("jsonl", jsonl), t, names);
            try (Tensor back = Npy.readFloat32(npy)) {
                assertEquals(List.of(1.5f, -2f, 0.25f, 3f), List.of(back.toFloatArray()[0], back.toFloatArray()[1],
                        back.toFloatArray()[2], back.toFloatArray()[3]));
            }
            assertEquals(List.of("name,e0,e1", "a.png,1.5,-2.0", "\"b, \"\"quoted\"\".png\",0.25,3.0"), Files.readAllLines(csv));
            List<String> lines = Files.readAllLines(jsonl);
            assertEquals(2, lines.size());
            JsonNode second = new ObjectMapper().readTree(lines.get(1));
            assertEquals("b, \"quoted\".png", second.get("name").asText());
            assertEquals(3.0, second.get("embedding").get(1).asDouble());
            assertThrows(IllegalArgumentException.class, () -> EmbeddingOutput.format("xml", npy));
        }
    }
}
