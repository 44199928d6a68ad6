package io.vlm4j.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.io.AtomicFiles;
import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Writes embeddings F32 [N, E] as NumPy, CSV or JSON lines, atomically (temp file + rename). */
final class EmbeddingOutput {
    enum Format { NPY, CSV, JSONL }

    private EmbeddingOutput() {}

    /** The explicit format, else the one the file name's extension names, else NumPy. */
    static Format format(String explicit, Path out) {
        if (explicit != null) {
            try {
                return Format.valueOf(explicit.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--format must be npy, csv or jsonl, got '" + explicit + "'");
            }
        }
        String n = out.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".csv")) return Format.CSV;
        if (n.endsWith(".jsonl") || n.endsWith(".ndjson")) return Format.JSONL;
        return Format.NPY;
    }

    /**
     * @param names one name per row (the image file or the text); CSV puts it in the first column, JSON lines in a
     *              "name" field; NumPy files carry only the numbers
     */
    static void write(Path out, Format format, Tensor embeddings, List<String> names) throws IOException {
        int n = (int) embeddings.dim(0), e = (int) embeddings.dim(1);
        if (names.size() != n) throw new IllegalStateException(names.size() + " names for " + n + " rows");
        if (format == Format.NPY) {
            Npy.write(out, embeddings);
            return;
        }
        float[] v = embeddings.toFloatArray();
        AtomicFiles.write(out, os -> {
            BufferedWriter w = new BufferedWriter(new OutputStreamWriter(os, StandardCharsets.UTF_8));
            if (format == Format.CSV) {
                w.write("name");
                for (int j = 0; j < e; j++) w.write(",e" + j);
                w.write('\n');
                for (int i = 0; i < n; i++) {
                    w.write(csvField(names.get(i)));
                    for (int j = 0; j < e; j++) {
                        w.write(',');
                        w.write(Float.toString(v[i * e + j]));
                    }
                    w.write('\n');
                }
            } else {
                ObjectMapper m = new ObjectMapper();
                for (int i = 0; i < n; i++) {
                    JsonGenerator g = m.getFactory().createGenerator(w);
                    g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
                    g.writeStartObject();
                    g.writeStringField("name", names.get(i));
                    g.writeArrayFieldStart("embedding");
                    for (int j = 0; j < e; j++) g.writeNumber(v[i * e + j]);
                    g.writeEndArray();
                    g.writeEndObject();
                    g.flush();
                    w.write('\n');
                }
            }
            w.flush();
        });
    }

    /** RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled. */
    static String csvField(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) return s;
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}
