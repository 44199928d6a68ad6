package io.vlm4j.io;

import io.vlm4j.tensor.Shapes;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The header of a NumPy {@code .npy} file (format versions 1.0–3.0): element type, C order, shape, and where the
 * data starts. {@link #parse} reads the header's Python dict literal with a small literal parser (never an
 * evaluator) and accepts only what {@link Npy} can read: little-endian or byte-order-free f2/f4/f8/i4/i8/u1/b1
 * in C order.
 *
 * @param kind 'f' float, 'i' signed int, 'u' unsigned int, 'b' bool
 * @param itemSize bytes per element
 * @param dataOffset byte offset of the first element in the file
 */
public record NpyHeader(String descr, char kind, int itemSize, long[] shape, long dataOffset) {
    private static final Pattern DESCR = Pattern.compile("([<>|=])([a-zA-Z])(\\d+)");
    private static final Set<String> SUPPORTED = Set.of("f2", "f4", "f8", "i4", "i8", "u1", "b1");
    private static final Set<String> KEYS = Set.of("descr", "fortran_order", "shape");

    public NpyHeader {
        shape = shape.clone();
    }

    @Override
    public long[] shape() { return shape.clone(); }

    public long numel() { return Shapes.numel(shape); }

    /** numel · itemSize; validated not to overflow when the header was parsed. */
    public long dataBytes() { return numel() * itemSize; }

    @Override
    public String toString() {
        return "npy " + descr + " " + Arrays.toString(shape) + " at " + dataOffset;
    }

    /** Validates the dict literal {@code text} of {@code file}; {@code dataOffset} is where the header ends. */
    static NpyHeader parse(Path file, String text, long dataOffset) throws ModelFormatException {
        Object parsed;
        try {
            Literal p = new Literal(text);
            parsed = p.value();
            p.skipSpace();
            if (!p.atEnd()) throw p.error("unexpected text after the dict");
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, "malformed .npy header " + quote(text) + ": " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> dict)) {
            throw new ModelFormatException(file, "malformed .npy header " + quote(text) + ": not a dict");
        }
        for (String key : KEYS) {
            if (!dict.containsKey(key)) throw new ModelFormatException(file, ".npy header has no '" + key + "' key");
        }
        for (Object key : dict.keySet()) {
            if (!KEYS.contains(key)) throw new ModelFormatException(file, ".npy header has unexpected key " + key);
        }
        if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
            throw new ModelFormatException(file, ".npy header fortran_order must be True or False");
        }
        if (fortran) {
            throw new ModelFormatException(file, "Fortran-order (column-major) arrays are not supported;"
                    + " save with np.ascontiguousarray(a)");
        }
        if (!(dict.get("descr") instanceof String descr)) {
            throw new ModelFormatException(file, "unsupported .npy dtype descr " + dict.get("descr")
                    + " (structured dtypes are not supported)");
        }
        Matcher m = DESCR.matcher(descr);
        String type = m.matches() ? m.group(2) + m.group(3) : "";
        if (!SUPPORTED.contains(type)) {
            throw new ModelFormatException(file, "unsupported .npy dtype descr '" + descr
                    + "' (supported: <f2, <f4, <f8, <i4, <i8, |u1, |b1)");
        }
        int itemSize = Integer.parseInt(m.group(3));
        char order = m.group(1).charAt(0);
        // For 1-byte types the byte order is meaningless; for wider ones only little-endian and native ('=') data
        // can be read ('=' is taken as little-endian: every platform we run on is).
        if (itemSize > 1 && order == '>') {
            throw new ModelFormatException(file, "big-endian .npy data ('" + descr + "') is not supported;"
                    + " save with a.astype('<" + type + "')");
        }
        if (itemSize > 1 && order == '|') {
            throw new ModelFormatException(file, "invalid .npy dtype descr '" + descr + "': '|' (no byte order) only fits 1-byte types");
        }
        long[] shape = shape(file, dict.get("shape"));
        try {
            Math.multiplyExact(Shapes.numel(shape), (long) itemSize);
        } catch (ArithmeticException e) {
            throw new ModelFormatException(file, ".npy shape " + Arrays.toString(shape) + " has too many elements");
        }
        return new NpyHeader(descr, type.charAt(0), itemSize, shape, dataOffset);
    }

    private static long[] shape(Path file, Object value) throws ModelFormatException {
        if (!(value instanceof Tuple t)) {
            throw new ModelFormatException(file, ".npy header shape must be a tuple of integers, found " + value);
        }
        long[] out = new long[t.items().size()];
        for (int i = 0; i < out.length; i++) {
            Object d = t.items().get(i);
            if (!(d instanceof BigInteger b) || b.signum() < 0 || b.bitLength() > 62) {
                throw new ModelFormatException(file, ".npy header shape " + t + " must hold non-negative integers");
            }
            out[i] = b.longValue();
        }
        return out;
    }

    /** The header dict numpy itself writes, for {@link Npy#write}. */
    static String format(String descr, long[] shape) {
        StringBuilder s = new StringBuilder("{'descr': '").append(descr).append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.length; i++) s.append(i > 0 ? ", " : "").append(shape[i]);
        return s.append(shape.length == 1 ? ",), }" : "), }").toString();
    }

    private static String quote(String text) {
        String t = text.strip();
        return "\"" + (t.length() <= 120 ? t : t.substring(0, 117) + "...") + "\"";
    }

    /** A Python tuple; a list stays a {@link List} so that the two can be told apart. */
    private record Tuple(List<Object> items) {
        @Override
        public String toString() {
            StringBuilder s = new StringBuilder("(");
            for (int i = 0; i < items.size(); i++) s.append(i > 0 ? ", " : "").append(items.get(i));
            return s.append(items.size() == 1 ? ",)" : ")").toString();
        }
    }

    /** The marker for Python's None (maps cannot hold null values we want to distinguish from absent keys). */
    private enum None {
        NONE;

        @Override
        public String toString() { return "None"; }
    }

    /**
     * Recursive-descent parser for the Python literals numpy writes: dict, tuple, list, str, int (with the old
     * Python 2 'L' suffix), True, False, None. Errors are IllegalArgumentExceptions carrying the position.
     */
    private static final class Literal {
        /** Real headers nest two levels; the cap keeps hostile input from exhausting the stack. */
        private static final int MAX_DEPTH = 16;
        private final String s;
        private int i;
        private int depth;

        Literal(String s) { this.s = s; }

        boolean atEnd() { return i >= s.length(); }

        void skipSpace() {
            while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n' || s.charAt(i) == '\t' || s.charAt(i) == '\r')) i++;
        }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException(what + " at position " + i);
        }

        Object value() {
            skipSpace();
            if (atEnd()) throw error("unexpected end");
            char c = s.charAt(i);
            if (c == '{' || c == '(' || c == '[') {
                if (++depth > MAX_DEPTH) throw error("nested too deeply");
                Object v = c == '{' ? dict() : sequence(c);
                depth--;
                return v;
            }
            if (c == '\'' || c == '"') return string(c);
            if (c == '-' || c == '+' || Character.isDigit(c)) return integer();
            if (Character.isLetter(c) || c == '_') return word();
            throw error("unexpected '" + c + "'");
        }

        private Map<Object, Object> dict() {
            i++;  // '{'
            Map<Object, Object> out = new LinkedHashMap<>();
            while (true) {
                skipSpace();
                if (peek('}')) return out;
                Object key = value();
                if (!(key instanceof String)) throw error("dict key " + key + " is not a string");
                skipSpace();
                expect(':');
                Object v = value();
                if (out.put(key, v) != null) throw error("duplicate key '" + key + "'");
                skipSpace();
                if (peek('}')) return out;
                expect(',');
            }
        }

        /** Tuple or list; "(x)" without a comma is just x in parentheses, as in Python. */
        private Object sequence(char open) {
            char close = open == '(' ? ')' : ']';
            i++;
            List<Object> items = new ArrayList<>();
            boolean comma = false;
            while (true) {
                skipSpace();
                if (peek(close)) break;
                items.add(value());
                skipSpace();
                if (peek(close)) break;
                expect(',');
                comma = true;
            }
            if (open == '[') return items;
            if (items.size() == 1 && !comma) return items.get(0);
            return new Tuple(items);
        }

        private String string(char quote) {
            i++;
            StringBuilder out = new StringBuilder();
            while (true) {
                if (atEnd()) throw error("unterminated string");
                char c = s.charAt(i++);
                if (c == quote) return out.toString();
                if (c == '\\') {
                    if (atEnd()) throw error("unterminated string");
                    c = s.charAt(i++);
                }
                if (c == '\n') throw error("newline in string");
                out.append(c);
            }
        }

        private BigInteger integer() {
            int start = i;
            if (s.charAt(i) == '-' || s.charAt(i) == '+') i++;
            int digits = i;
            while (i < s.length() && Character.isDigit(s.charAt(i)) && s.charAt(i) < 128) i++;
            if (i == digits) throw error("expected digits");
            if (i - digits > 40) throw error("integer too long");
            BigInteger v = new BigInteger(s.substring(start, i));
            if (i < s.length() && (s.charAt(i) == 'L' || s.charAt(i) == 'l')) i++;  // Python 2 long
            if (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                throw error("not an integer");
            }
            return v;
        }

        private Object word() {
            int start = i;
            while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) i++;
            String w = s.substring(start, i);
            return switch (w) {
                case "True" -> Boolean.TRUE;
                case "False" -> Boolean.FALSE;
                case "None" -> None.NONE;
                default -> {
                    i = start;
                    throw error("unexpected name '" + w + "'");
                }
            };
        }

        private boolean peek(char c) {
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!peek(c)) throw error(atEnd() ? "expected '" + c + "' but the header ended" : "expected '" + c + "' but found '" + s.charAt(i) + "'");
        }
    }
}
