package io.vlm4j.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.List;
import java.util.Locale;

/** JSON and text-table output shared by the report records. */
final class Reports {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Reports() {}

    static String json(Object report) {
        try {
            return JSON.writeValueAsString(report);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("report not serializable: " + e.getMessage(), e);
        }
    }

    /** A metric to 4 decimals, or "n/a" when undefined. */
    static String num(double v) { return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4f", v) : "n/a"; }

    /** Left-aligned first column, right-aligned others, widths from the content. */
    static String table(List<String> header, List<List<String>> rows) {
        int cols = header.size();
        int[] w = new int[cols];
        for (int c = 0; c < cols; c++) w[c] = header.get(c).length();
        for (List<String> r : rows) for (int c = 0; c < cols; c++) w[c] = Math.max(w[c], r.get(c).length());
        StringBuilder sb = new StringBuilder();
        line(sb, header, w);
        for (int c = 0; c < cols; c++) sb.append(c == 0 ? "" : "  ").append("-".repeat(w[c]));
        sb.append('\n');
        for (List<String> r : rows) line(sb, r, w);
        return sb.toString();
    }

    private static void line(StringBuilder sb, List<String> cells, int[] w) {
        for (int c = 0; c < cells.size(); c++) {
            String s = cells.get(c);
            if (c == 0) sb.append(s).append(" ".repeat(w[c] - s.length()));
            else sb.append("  ").append(" ".repeat(w[c] - s.length())).append(s);
        }
        sb.append('\n');
    }
}
