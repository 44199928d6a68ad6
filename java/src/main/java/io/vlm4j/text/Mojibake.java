package io.vlm4j.text;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Repairs UTF-8 text that was decoded with a single-byte code page ("mojibake"), the common cases of ftfy's
 * {@code fix_encoding} (ftfy/__init__.py {@code _fix_encoding_one_step_and_explain}, ftfy/chardata.py):
 * <ol>
 *   <li>the whole text re-encodes in one of ftfy's code pages (Latin-1, then the "sloppy" Windows-125x pages whose
 *       undefined bytes map to the same-numbered code point, ISO-8859-2, MacRoman, cp437) to bytes that are valid
 *       UTF-8: decode them ("â€œquotesâ€\u009d" → "“quotes”");</li>
 *   <li>otherwise single UTF-8 sequences embedded in other text, seen through Latin-1/Windows-1252, are decoded in
 *       place ({@code decode_inconsistent_utf8});</li>
 *   <li>C1 control characters are read as Windows-1252 ({@code fix_c1_controls}, {@link #fixC1Controls}).</li>
 * </ol>
 * Not ported: ftfy's "badness" score that gates step 1 (a whole text that re-encodes to valid UTF-8 is taken as
 * mojibake, as legitimate text almost never does), CESU-8 / Java modified UTF-8, and the repair of sequences whose
 * 0xA0 byte became a space. Step 2 only decodes sequences whose result lies in a plausible block (Latin, Greek,
 * Cyrillic, Hebrew, Arabic, Indic, Thai, general punctuation and symbols, CJK, Hangul, emoji), and step 1 only when
 * every decoded character does; this stands in for ftfy's badness check, e.g. "Fuß…" (whose Windows-1252 bytes
 * DF 85 are valid UTF-8 for an N'Ko letter) is left alone.
 */
final class Mojibake {
    private static final char NONE = '\uFFFF';

    /** One single-byte code page: byte → char, and char → byte by binary search. */
    private static final class CodePage {
        final char[] decode = new char[256];
        final char[] chars;  // sorted
        final byte[] bytes;  // bytes[i] encodes chars[i]

        CodePage(String charset, boolean sloppy) {
            CharsetDecoder dec = Charset.forName(charset).newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
            List<long[]> pairs = new ArrayList<>(256);
            for (int b = 0; b < 256; b++) {
                char c;
                try {
                    CharBuffer cb = dec.reset().decode(ByteBuffer.wrap(new byte[] {(byte) b}));
                    c = cb.length() == 1 ? cb.get(0) : NONE;
                } catch (CharacterCodingException e) {
                    c = NONE;
                }
                if (c == NONE && sloppy) c = (char) b; // ftfy's sloppy codecs fill holes with the same number
                decode[b] = c;
                if (c != NONE) pairs.add(new long[] {c, b});
            }
            pairs.sort((x, y) -> Long.compare(x[0], y[0]));
            chars = new char[pairs.size()];
            bytes = new byte[pairs.size()];
            for (int i = 0; i < chars.length; i++) {
                chars[i] = (char) pairs.get(i)[0];
                bytes[i] = (byte) pairs.get(i)[1];
            }
        }

        /** The byte for {@code c}, or -1. */
        int encode(char c) {
            int i = Arrays.binarySearch(chars, c);
            return i < 0 ? -1 : bytes[i] & 0xFF;
        }

        /**
         * The text in this code page if that is well-formed UTF-8 (ending a sequence early, overlongs, surrogates and
         * code points past U+10FFFF are not), else null. Gives up at the first byte that cannot be right, so most
         * legitimate text costs only a few characters per page.
         */
        byte[] encodeIfUtf8(String s) {
            byte[] out = new byte[s.length()];
            int need = 0;          // continuation bytes still expected
            int lo = 0x80, hi = 0xBF; // allowed range of the next continuation byte
            for (int i = 0; i < out.length; i++) {
                char c = s.charAt(i);
                int b = c < 0x80 ? c : encode(c);
                if (b < 0) return null;
                out[i] = (byte) b;
                if (need > 0) {
                    if (b < lo || b > hi) return null;
                    need--;
                    lo = 0x80;
                    hi = 0xBF;
                } else if (b >= 0x80) {
                    if (b >= 0xC2 && b <= 0xDF) {
                        need = 1;
                    } else if (b >= 0xE0 && b <= 0xEF) {
                        need = 2;
                        if (b == 0xE0) lo = 0xA0;      // no overlongs
                        else if (b == 0xED) hi = 0x9F; // no surrogates
                    } else if (b >= 0xF0 && b <= 0xF4) {
                        need = 3;
                        if (b == 0xF0) lo = 0x90;
                        else if (b == 0xF4) hi = 0x8F;
                    } else {
                        return null;
                    }
                }
            }
            return need == 0 ? out : null;
        }
    }

    private static final CodePage CP1252 = new CodePage("windows-1252", true);
    /** ftfy's CHARMAP_ENCODINGS, in its order. */
    private static final List<CodePage> CODE_PAGES = List.of(
            new CodePage("ISO-8859-1", false), CP1252,
            new CodePage("windows-1251", true), new CodePage("windows-1250", true),
            new CodePage("windows-1253", true), new CodePage("windows-1254", true),
            new CodePage("windows-1257", true), new CodePage("ISO-8859-2", false),
            new CodePage("x-MacRoman", false), new CodePage("IBM437", false));

    private Mojibake() {}

    /** Byte {@code b} (0…255) decoded with ftfy's sloppy Windows-1252. */
    static char sloppyCp1252(int b) {
        return CP1252.decode[b];
    }

    /** ftfy's {@code fix_encoding}: repeats single repairs until the text stops changing. */
    static String fixEncoding(String s) {
        for (int round = 0; round < 16; round++) {
            String fixed = fixOneStep(s);
            if (fixed.equals(s)) return s;
            s = fixed;
        }
        return s;
    }

    private static String fixOneStep(String s) {
        if (isAscii(s)) return s;
        for (CodePage page : CODE_PAGES) {
            byte[] b = page.encodeIfUtf8(s);
            if (b == null) continue;
            String decoded = new String(b, StandardCharsets.UTF_8);
            if (allPlausible(decoded)) return decoded;
        }
        return decodeInconsistentUtf8(s);
    }

    /** UTF-8 sequences (as Latin-1 / Windows-1252 characters) inside text that is not mojibake as a whole. */
    static String decodeInconsistentUtf8(String s) {
        StringBuilder out = null;
        int n = s.length();
        byte[] seq = new byte[4];
        for (int i = 0; i < n; ) {
            int lead = latin1Or1252(s.charAt(i));
            int len = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
            String decoded = null;
            if (len > 0 && i + len <= n) {
                seq[0] = (byte) lead;
                int k = 1;
                for (; k < len; k++) {
                    int b = latin1Or1252(s.charAt(i + k));
                    if (b < 0x80 || b > 0xBF) break;
                    seq[k] = (byte) b;
                }
                if (k == len) {
                    decoded = strictUtf8(seq, 0, len);
                    if (decoded != null && !plausible(decoded.codePointAt(0))) decoded = null;
                }
            }
            if (decoded != null) {
                if (out == null) out = new StringBuilder(n).append(s, 0, i);
                out.append(decoded);
                i += len;
            } else {
                if (out != null) out.append(s.charAt(i));
                i++;
            }
        }
        return out == null ? s : out.toString();
    }

    /** ftfy's {@code fix_c1_controls}: U+0080…U+009F read as Windows-1252 (holes stay as they are). */
    static String fixC1Controls(String s) {
        int n = s.length();
        int i = 0;
        while (i < n && (s.charAt(i) < 0x80 || s.charAt(i) > 0x9F)) i++;
        if (i == n) return s;
        char[] out = s.toCharArray();
        for (; i < n; i++) if (out[i] >= 0x80 && out[i] <= 0x9F) out[i] = CP1252.decode[out[i]];
        return new String(out);
    }

    /** The byte of {@code c} read as Latin-1 (U+0000…U+00FF) or as one of Windows-1252's extra characters; -1 if neither. */
    private static int latin1Or1252(char c) {
        return c < 0x100 ? c : CP1252.encode(c);
    }

    private static boolean allPlausible(String s) {
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            if (cp >= 0x80 && !plausible(cp)) return false;
            i += Character.charCount(cp);
        }
        return true;
    }

    /** Where decoded mojibake usually lands; not, e.g., the N'Ko and Thaana blocks that "ß…"-like text would hit. */
    private static boolean plausible(int cp) {
        return (cp >= 0xA0 && cp <= 0x06FF)           // Latin-1 supplement … Arabic
                || (cp >= 0x0900 && cp <= 0x0E7F)     // Indic scripts, Thai
                || (cp >= 0x1E00 && cp <= 0x1FFF)     // Latin extended additional, Greek extended
                || (cp >= 0x2000 && cp <= 0x2BFF)     // punctuation, currency, letterlike, arrows, math, symbols
                || (cp >= 0x3000 && cp <= 0x9FFF)     // CJK punctuation, kana, CJK ideographs
                || (cp >= 0xAC00 && cp <= 0xD7A3)     // Hangul syllables
                || (cp >= 0xFF00 && cp <= 0xFFEF)     // full-width forms
                || (cp >= 0x1F000 && cp <= 0x1FAFF);  // emoji and pictographs
    }

    private static boolean isAscii(String s) {
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) >= 0x80) return false;
        return true;
    }

    /** Strict UTF-8 (no overlongs, no surrogates), or null. */
    private static String strictUtf8(byte[] b, int off, int len) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b, off, len)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
