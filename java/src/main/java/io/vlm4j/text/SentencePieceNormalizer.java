package io.vlm4j.text;

import io.vlm4j.io.ModelFormatException;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;

/**
 * SentencePiece's text normalization ({@code normalizer.cc}, {@code Normalizer::Normalize} / {@code NormalizePrefix}),
 * over UTF-8 bytes:
 * <ol>
 *   <li>at each position the longest user-defined piece is copied as it is; else the longest key of the precompiled
 *       charsmap is replaced by its normalized string; else one UTF-8 character is copied;</li>
 *   <li>with {@code remove_extra_whitespaces}: leading spaces are dropped, a space that follows a space is dropped,
 *       and trailing spaces (after escaping: trailing U+2581, even one that was in the input) are dropped;</li>
 *   <li>{@code add_dummy_prefix} puts one space in front (at the end with {@code treat_whitespace_as_suffix});</li>
 *   <li>{@code escape_whitespaces} writes every ' ' as U+2581 "▁".</li>
 * </ol>
 * The charsmap ({@code normalizer_spec.precompiled_charsmap}) is {@code <uint32 LE trie size><darts-clone double
 * array><NUL-separated normalized strings>}; a trie value is the offset of a string. The same blob is what the HF
 * tokenizers crate's {@code Precompiled} normalizer reads. Immutable.
 */
final class SentencePieceNormalizer {
    private static final byte[] SPACE_SYMBOL = {(byte) 0xE2, (byte) 0x96, (byte) 0x81};  // U+2581

    private final int[] units;        // darts-clone double array, empty without a charsmap
    private final byte[] normalized;  // NUL-terminated replacement strings
    private final ByteTrie userDefined;
    private final boolean addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces, whitespaceAsSuffix;

    SentencePieceNormalizer(byte[] charsmap, ByteTrie userDefined, boolean addDummyPrefix, boolean removeExtraWhitespaces,
                            boolean escapeWhitespaces, boolean whitespaceAsSuffix, Path file) throws ModelFormatException {
        if (charsmap.length == 0) {
            units = new int[0];
            normalized = new byte[0];
        } else {
            if (charsmap.length <= 4) throw new ModelFormatException(file, "precompiled_charsmap is " + charsmap.length + " bytes, too short");
            long trieBytes = (charsmap[0] & 0xFFL) | (charsmap[1] & 0xFFL) << 8 | (charsmap[2] & 0xFFL) << 16 | (charsmap[3] & 0xFFL) << 24;
            if (trieBytes > charsmap.length - 4) {
                throw new ModelFormatException(file, "precompiled_charsmap trie size " + trieBytes + " exceeds its " + (charsmap.length - 4) + " bytes");
            }
            units = new int[(int) trieBytes / 4];
            for (int i = 0; i < units.length; i++) {
                int o = 4 + 4 * i;
                units[i] = (charsmap[o] & 0xFF) | (charsmap[o + 1] & 0xFF) << 8 | (charsmap[o + 2] & 0xFF) << 16 | (charsmap[o + 3] & 0xFF) << 24;
            }
            normalized = java.util.Arrays.copyOfRange(charsmap, 4 + (int) trieBytes, charsmap.length);
        }
        this.userDefined = userDefined;
        this.addDummyPrefix = addDummyPrefix;
        this.removeExtraWhitespaces = removeExtraWhitespaces;
        this.escapeWhitespaces = escapeWhitespaces;
        this.whitespaceAsSuffix = whitespaceAsSuffix;
    }

    /** The normalized UTF-8 bytes of {@code input} (UTF-8). */
    byte[] normalize(byte[] input) {
        int pos = 0, n = input.length;
        if (removeExtraWhitespaces) {  // leading spaces, judged after normalization
            for (Replacement r; pos < n && (r = prefix(input, pos)).to - r.from == 1 && r.src[r.from] == ' '; ) pos += r.consumed;
        }
        if (pos >= n) return new byte[0];
        ByteArrayOutputStream out = new ByteArrayOutputStream(3 * (n - pos) + 3);
        if (!whitespaceAsSuffix && addDummyPrefix) writeSpace(out);
        boolean prevSpace = removeExtraWhitespaces;
        while (pos < n) {
            Replacement r = prefix(input, pos);
            int from = r.from;
            while (prevSpace && from < r.to && r.src[from] == ' ') from++;
            if (from < r.to) {
                for (int i = from; i < r.to; i++) {
                    if (r.src[i] == ' ') writeSpace(out);
                    else out.write(r.src[i]);
                }
                prevSpace = r.src[r.to - 1] == ' ';
            }
            pos += r.consumed;
            if (!removeExtraWhitespaces) prevSpace = false;
        }
        byte[] result = out.toByteArray();
        int len = result.length;
        if (removeExtraWhitespaces) {
            byte[] space = escapeWhitespaces ? SPACE_SYMBOL : new byte[] {' '};
            while (endsWith(result, len, space)) len -= space.length;
        }
        out.reset();
        out.write(result, 0, len);
        if (whitespaceAsSuffix && addDummyPrefix) writeSpace(out);
        return out.toByteArray();
    }

    /** What {@code consumed} input bytes become: {@code src[from, to)}. */
    private record Replacement(byte[] src, int from, int to, int consumed) {}

    /** NormalizePrefix: user-defined piece, else the charsmap's longest key, else one character copied. */
    private Replacement prefix(byte[] in, int pos) {
        int user = userDefined.longestPrefix(in, pos);
        if (user > 0) return new Replacement(in, pos, pos + user, user);
        int bestLen = 0, bestValue = 0;
        if (units.length > 0) {
            int node = offset(units[0]);
            for (int i = pos; i < in.length; i++) {
                int c = in[i] & 0xFF;
                node ^= c;
                if (node < 0 || node >= units.length) break;  // only a corrupt trie leaves the array
                int unit = units[node];
                if ((unit & 0x800000FF) != c) break;          // the label; a leaf unit's has the top bit set
                node ^= offset(unit);
                if (((unit >>> 8) & 1) == 1 && node >= 0 && node < units.length) {  // a key ends here
                    bestLen = i + 1 - pos;
                    bestValue = units[node] & 0x7FFFFFFF;
                }
            }
        }
        if (bestLen > 0 && bestValue < normalized.length) {
            int to = bestValue;
            while (to < normalized.length && normalized[to] != 0) to++;
            return new Replacement(normalized, bestValue, to, bestLen);
        }
        int len = Math.min(charLength(in[pos]), in.length - pos);
        return new Replacement(in, pos, pos + len, len);
    }

    /** SentencePiece's OneCharLen: the byte length of the UTF-8 character that starts with {@code lead}. */
    static int charLength(byte lead) {
        int hi = (lead & 0xFF) >>> 4;
        return hi < 12 ? 1 : hi < 14 ? 2 : hi == 14 ? 3 : 4;
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }

    private void writeSpace(ByteArrayOutputStream out) {
        if (escapeWhitespaces) out.write(SPACE_SYMBOL, 0, SPACE_SYMBOL.length);
        else out.write(' ');
    }

    private static boolean endsWith(byte[] b, int len, byte[] suffix) {
        if (len < suffix.length) return false;
        for (int i = 0; i < suffix.length; i++) if (b[len - suffix.length + i] != suffix[i]) return false;
        return true;
    }
}
