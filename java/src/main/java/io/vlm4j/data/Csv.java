package io.vlm4j.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 CSV: fields separated by commas, records by LF or CRLF; a field in double quotes may hold commas, line
 * breaks and doubled quotes. Stricter than the RFC's readers in one way: a quote inside an unquoted field, or text after
 * a closing quote, is an error naming the line (it is almost always a broken file, not data).
 */
final class Csv {
    /** One record and the line it starts on (1-based). */
    record Row(int line, List<String> fields) {}

    private Csv() {}

    static List<Row> parse(Path file, String text) throws DatasetFormatException {
        List<Row> rows = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        int line = 1, rowLine = 1, i = 0, n = text.length();
        boolean quoted = false, wasQuoted = false;
        while (i < n) {
            char c = text.charAt(i++);
            if (quoted) {
                if (c == '"') {
                    if (i < n && text.charAt(i) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                        if (i < n && text.charAt(i) != ',' && text.charAt(i) != '\n' && text.charAt(i) != '\r') {
                            throw new DatasetFormatException(file, "line " + line + ": text after a closing quote");
                        }
                    }
                } else {
                    if (c == '\n') line++;
                    field.append(c);
                }
            } else if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
                wasQuoted = false;
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i < n && text.charAt(i) == '\n') i++;
                fields.add(field.toString());
                rows.add(new Row(rowLine, List.copyOf(fields)));
                fields.clear();
                field.setLength(0);
                wasQuoted = false;
                rowLine = ++line;
            } else if (c == '"') {
                if (field.length() > 0 || wasQuoted) {
                    throw new DatasetFormatException(file, "line " + line
                            + ": quote inside an unquoted field (quote the whole field and double the quote)");
                }
                quoted = wasQuoted = true;
            } else {
                field.append(c);
            }
        }
        if (quoted) throw new DatasetFormatException(file, "line " + rowLine + ": quoted field is not closed before the end of the file");
        if (field.length() > 0 || !fields.isEmpty() || wasQuoted) {  // last record without a line break
            fields.add(field.toString());
            rows.add(new Row(rowLine, List.copyOf(fields)));
        }
        return rows;
    }
}
