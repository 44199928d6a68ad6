package io.vlm4j.text;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text cleaning of OpenAI's {@code SimpleTokenizer.encode} (spec 03 §3): {@code ftfy.fix_text} (ftfy 6 defaults,
 * the common cases: HTML entities when the text has no '<', UTF-8 mojibake read as Windows-1252/Latin-1, C1
 * controls, Latin ligatures, full-width forms, curly quotes, line breaks, control characters, NFC; repeated until
 * nothing changes), then Python's {@code html.unescape} twice, strip, every run of Unicode whitespace to one space,
 * and Python's {@code str.lower()}.
 *
 * <p>Mojibake repair ({@link Mojibake}, from the parallel tokenizer work on branch issue3-tok) covers ftfy's code pages
 * and embedded sequences; ftfy's badness score itself is approximated by a plausibility check of the decoded text.
 */
public final class TextCleaner {
    private TextCleaner() {}

    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    // Python html.unescape's pattern (Lib/html/__init__.py)
    private static final Pattern CHARREF = Pattern.compile("&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\\t\\n\\f <&#;]{1,32};?)");
    private static final Pattern ANSI = Pattern.compile("\u001b\\[((?:\\d|;)*)([a-zA-Z])");
    private static final Map<String, String> HTML5 = loadEntities();

    /** Windows-1252 for bytes 0x80-0x9F; the five bytes it leaves undefined map to the C1 control itself ("sloppy"). */
    private static final char[] CP1252_80 = {
        '\u20AC', '\u0081', '\u201A', '\u0192', '\u201E', '\u2026', '\u2020', '\u2021',
        '\u02C6', '\u2030', '\u0160', '\u2039', '\u0152', '\u008D', '\u017D', '\u008F',
        '\u0090', '\u2018', '\u2019', '\u201C', '\u201D', '\u2022', '\u2013', '\u2014',
        '\u02DC', '\u2122', '\u0161', '\u203A', '\u0153', '\u009D', '\u017E', '\u0178'};

    /** ftfy's fix_latin_ligatures table. */
    private static final Map<Character, String> LIGATURES = Map.ofEntries(
            Map.entry('\u0132', "IJ"), Map.entry('\u0133', "ij"), Map.entry('\u0149', "\u02BCn"),
            Map.entry('\u01F1', "DZ"), Map.entry('\u01F2', "Dz"), Map.entry('\u01F3', "dz"),
            Map.entry('\u01C4', "D\u017D"), Map.entry('\u01C5', "D\u017E"), Map.entry('\u01C6', "d\u017E"),
            Map.entry('\u01C7', "LJ"), Map.entry('\u01C8', "Lj"), Map.entry('\u01C9', "lj"),
            Map.entry('\u01CA', "NJ"), Map.entry('\u01CB', "Nj"), Map.entry('\u01CC', "nj"),
            Map.entry('\uFB00', "ff"), Map.entry('\uFB01', "fi"), Map.entry('\uFB02', "fl"), Map.entry('\uFB03', "ffi"),
            Map.entry('\uFB04', "ffl"), Map.entry('\uFB05', "\u017Ft"), Map.entry('\uFB06', "st"));

    /** The whole OpenAI pipeline: ftfy, html.unescape twice, strip, whitespace collapse, lowercase. */
    public static String clean(String text) {
        return cleanKeepCase(text).toLowerCase(Locale.ROOT);
    }

    /** open_clip's {@code clean='whitespace'} (used with BERT tokenizers, which lowercase themselves): no lowercasing. */
    public static String cleanKeepCase(String text) {
        String t = htmlUnescape(htmlUnescape(fixText(text)));
        t = WHITESPACE.matcher(pyStrip(t)).replaceAll(" ");
        return pyStrip(t);
    }

    /** ftfy 6 {@code fix_text} with its default configuration, for the cases described in the class comment. */
    public static String fixText(String text) {
        boolean unescape = text.indexOf('<') < 0;  // unescape_html="auto"
        String t = text;
        while (true) {
            String before = t;
            if (unescape) t = htmlUnescape(t);
            t = ANSI.matcher(t).replaceAll("");
            t = Mojibake.fixEncoding(t);  // whole-text and embedded UTF-8 mojibake over ftfy's code pages
            t = Mojibake.fixC1Controls(t);
            t = mapChars(t);  // ligatures, character width, curly quotes, line breaks, control characters
            t = Normalizer.normalize(t, Normalizer.Form.NFC);
            if (t.equals(before)) return t;
        }
    }

    private static String mapChars(String t) {
        StringBuilder sb = new StringBuilder(t.length());
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            String lig = LIGATURES.get(c);
            if (lig != null) {
                sb.append(lig);
            } else if (c == '\u3000') {  // fix_character_width
                sb.append(' ');
            } else if (c >= '\uFF01' && c <= '\uFFEF') {
                sb.append(Normalizer.normalize(String.valueOf(c), Normalizer.Form.NFKC));
            } else if (c == '\u02BC' || (c >= '\u2018' && c <= '\u201B')) {  // uncurl_quotes
                sb.append('\'');
            } else if (c >= '\u201C' && c <= '\u201F') {
                sb.append('"');
            } else if (c == '\r') {  // fix_line_breaks
                sb.append('\n');
                if (i + 1 < t.length() && t.charAt(i + 1) == '\n') i++;
            } else if (c == '\u2028' || c == '\u2029' || c == '\u0085') {
                sb.append('\n');
            } else if (!isControl(c)) {  // remove_control_chars
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** ftfy's CONTROL_CHARS: C0 except tab, LF, FF and CR; DEL; deprecated format characters; BOM; U+FFF9-FFFC. */
    private static boolean isControl(char c) {
        return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F)
                || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
    }

    /** Python's {@code html.unescape}: named references of HTML5 (longest prefix for legacy ones), numeric ones. */
    public static String htmlUnescape(String s) {
        if (s.indexOf('&') < 0) return s;
        Matcher m = CHARREF.matcher(s);
        StringBuilder sb = new StringBuilder(s.length());
        int last = 0;
        while (m.find()) {
            sb.append(s, last, m.start()).append(replaceCharref(m.group(1)));
            last = m.end();
        }
        return sb.append(s, last, s.length()).toString();
    }

    private static String replaceCharref(String s) {
        if (s.charAt(0) == '#') {
            boolean hex = s.charAt(1) == 'x' || s.charAt(1) == 'X';
            String digits = s.substring(hex ? 2 : 1);
            if (digits.endsWith(";")) digits = digits.substring(0, digits.length() - 1);
            BigInteger big = new BigInteger(digits, hex ? 16 : 10);
            if (big.bitLength() > 31) return "\uFFFD";
            int num = big.intValue();
            if (num == 0) return "\uFFFD";
            if (num == 0x0D) return "\r";
            if (num >= 0x80 && num <= 0x9F) return String.valueOf(CP1252_80[num - 0x80]);
            if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return "\uFFFD";
            if ((num >= 0x1 && num <= 0x8) || (num >= 0xE && num <= 0x1F) || (num >= 0x7F && num <= 0x9F)
                    || (num >= 0xFDD0 && num <= 0xFDEF) || num == 0xB || (num & 0xFFFE) == 0xFFFE) {
                return "";
            }
            return new String(Character.toChars(num));
        }
        String v = HTML5.get(s);
        if (v != null) return v;
        for (int x = s.length() - 1; x > 1; x--) {
            v = HTML5.get(s.substring(0, x));
            if (v != null) return v + s.substring(x);
        }
        return "&" + s;
    }

    /** Python's {@code str.strip()}: removes characters for which {@code str.isspace()} is true. */
    static String pyStrip(String s) {
        int b = 0, e = s.length();
        while (b < e && isPySpace(s.charAt(b))) b++;
        while (e > b && isPySpace(s.charAt(e - 1))) e--;
        return s.substring(b, e);
    }

    /** Python's {@code str.isspace()} for one character (every such character is in the BMP). */
    static boolean isPySpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85 || (c >= 0x1C && c <= 0x1F);
    }

    private static Map<String, String> loadEntities() {
        Map<String, String> map = new HashMap<>(4096);
        try (InputStream in = TextCleaner.class.getResourceAsStream("html5-entities.tsv")) {
            if (in == null) throw new IllegalStateException("resource io/vlm4j/text/html5-entities.tsv is missing from the jar");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                int tab = line.indexOf('\t');
                StringBuilder v = new StringBuilder();
                for (String cp : line.substring(tab + 1).split(" ")) v.appendCodePoint(Integer.parseInt(cp, 16));
                map.put(line.substring(0, tab), v.toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return map;
    }
}
