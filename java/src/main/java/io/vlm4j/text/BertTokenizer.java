package io.vlm4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * BERT WordPiece tokenizer (spec 04 §5) with the semantics of Hugging Face's {@code BertTokenizer} in transformers 5
 * (the Rust {@code tokenizers} BertNormalizer + BertPreTokenizer + WordPiece): drop control characters (Cc, Cf, Co,
 * Cs; unassigned code points are kept), space out CJK ideographs, lowercase code point by code point and strip
 * accents (NFD, drop Mn) when configured, split on whitespace and punctuation; then greedy longest-match-first
 * WordPiece with {@code ##} continuations, a word over {@code maxInputCharsPerWord} or with no match becomes
 * {@code [UNK]}. Special tokens written in a text ({@code [CLS]}, {@code [SEP]}, ...) are kept whole. Ids are
 * vocabulary line numbers. With {@code openClipClean} (set when the directory has an {@code open_clip_config.json},
 * as BiomedCLIP's), open_clip's {@code clean='whitespace'} ({@link TextCleaner#cleanKeepCase}) runs first.
 */
public final class BertTokenizer implements Tokenizer {
    /** Options of HF's BertTokenizer / BertNormalizer. {@code stripAccents == null} follows {@code lowerCase}. */
    public record Options(boolean lowerCase, Boolean stripAccents, boolean splitChinese, int maxInputCharsPerWord, int context,
                          boolean openClipClean) {
        public static final Options UNCASED = new Options(true, null, true, 100, 512, false);

        boolean strip() { return stripAccents != null ? stripAccents : lowerCase; }
    }

    private static final List<String> SPECIALS = List.of("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]");

    private final Map<String, Integer> vocab;
    private final Options options;
    private final int cls, sep, pad, unk;
    private final List<String> specials;  // the SPECIALS present in the vocabulary, longest first

    public BertTokenizer(List<String> tokens, Options options, Path source) throws ModelFormatException {
        vocab = new HashMap<>(tokens.size() * 2);
        for (int i = 0; i < tokens.size(); i++) {
            Integer prev = vocab.putIfAbsent(tokens.get(i), i);
            if (prev != null) {
                throw new ModelFormatException(source, "token '" + tokens.get(i) + "' appears twice (lines " + (prev + 1) + " and " + (i + 1) + ")");
            }
        }
        if (vocab.isEmpty()) throw new ModelFormatException(source, "the vocabulary is empty");
        if (options.maxInputCharsPerWord() < 1 || options.context() < 2) {
            throw new IllegalArgumentException("bad tokenizer options " + options);
        }
        this.options = options;
        cls = special(source, "[CLS]");
        sep = special(source, "[SEP]");
        pad = special(source, "[PAD]");
        unk = special(source, "[UNK]");
        specials = SPECIALS.stream().filter(vocab::containsKey).toList();
    }

    private int special(Path source, String token) throws ModelFormatException {
        Integer id = vocab.get(token);
        if (id == null) throw new ModelFormatException(source, "the vocabulary has no " + token + " token");
        return id;
    }

    /**
     * From a directory ({@code vocab.txt}, else a WordPiece {@code tokenizer.json}) or one of those files; options from
     * {@code tokenizer_config.json} (do_lower_case, strip_accents, tokenize_chinese_chars, model_max_length) and the
     * context length from open_clip's {@code open_clip_config.json} when present.
     */
    public static BertTokenizer load(Path path) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString());
        Path dir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        Path file = Files.isDirectory(path) ? (Files.isRegularFile(dir.resolve("vocab.txt")) ? dir.resolve("vocab.txt")
                : dir.resolve("tokenizer.json")) : path;
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "no vocab.txt or tokenizer.json here");
        Options opt = readOptions(dir, Options.UNCASED);
        if (file.getFileName().toString().equals("tokenizer.json")) {
            JsonNode root = StrictJson.parseObject(file, "tokenizer", Files.readAllBytes(file));
            JsonNode model = root.path("model");
            if (!model.path("type").asText().equals("WordPiece")) {
                throw new ModelFormatException(file, "model.type is '" + model.path("type").asText() + "', not WordPiece");
            }
            if (!model.path("vocab").isObject()) throw new ModelFormatException(file, "model.vocab is missing or not an object");
            String[] tokens = new String[model.get("vocab").size()];
            for (Iterator<Map.Entry<String, JsonNode>> it = model.get("vocab").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id = e.getValue().asInt(-1);
                if (!e.getValue().canConvertToInt() || id < 0 || id >= tokens.length || tokens[id] != null) {
                    throw new ModelFormatException(file, "vocabulary ids must be 0.." + (tokens.length - 1) + " without gaps or repeats; '"
                            + e.getKey() + "' has " + e.getValue());
                }
                tokens[id] = e.getKey();
            }
            JsonNode norm = root.path("normalizer");
            boolean lower = norm.path("lowercase").asBoolean(opt.lowerCase());
            Boolean strip = norm.path("strip_accents").isBoolean() ? Boolean.valueOf(norm.get("strip_accents").asBoolean()) : opt.stripAccents();
            boolean chinese = norm.path("handle_chinese_chars").asBoolean(opt.splitChinese());
            int maxChars = model.path("max_input_chars_per_word").asInt(opt.maxInputCharsPerWord());
            return new BertTokenizer(Arrays.asList(tokens), new Options(lower, strip, chinese, maxChars, opt.context(), opt.openClipClean()), file);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(file, "is not valid UTF-8");
        }
        List<String> tokens = new ArrayList<>();
        for (String line : text.split("\n", -1)) tokens.add(line.endsWith("\r") ? line.substring(0, line.length() - 1) : line);
        if (!tokens.isEmpty() && tokens.get(tokens.size() - 1).isEmpty()) tokens.remove(tokens.size() - 1);  // final newline
        return new BertTokenizer(tokens, opt, file);
    }

    private static Options readOptions(Path dir, Options base) throws IOException {
        boolean lower = base.lowerCase(), chinese = base.splitChinese();
        Boolean strip = base.stripAccents();
        int ctx = base.context();
        Path cfg = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(cfg)) {
            JsonNode c = StrictJson.parseObject(cfg, "tokenizer settings", Files.readAllBytes(cfg));
            lower = c.path("do_lower_case").asBoolean(lower);
            if (c.path("strip_accents").isBoolean()) strip = c.get("strip_accents").asBoolean();
            chinese = c.path("tokenize_chinese_chars").asBoolean(chinese);
            JsonNode max = c.path("model_max_length");
            if (max.canConvertToInt() && max.asInt() >= 2 && max.asInt() <= 1_000_000) ctx = max.asInt();
        }
        Path oc = dir.resolve("open_clip_config.json");
        boolean openClip = Files.isRegularFile(oc);
        if (openClip) {
            JsonNode c = StrictJson.parseObject(oc, "open_clip config", Files.readAllBytes(oc));
            JsonNode len = c.path("model_cfg").path("text_cfg").path("context_length");
            if (len.canConvertToInt() && len.asInt() >= 2) ctx = len.asInt();
        }
        return new Options(lower, strip, chinese, base.maxInputCharsPerWord(), ctx, openClip);
    }

    @Override
    public int[] tokenize(String text) {
        String t = options.openClipClean() ? TextCleaner.cleanKeepCase(text) : text;
        List<Integer> out = new ArrayList<>();
        // special tokens written in the text stay whole (HF splits them off before basic tokenization)
        int pos = 0;
        while (pos <= t.length()) {
            int best = -1;
            String which = null;
            for (String s : specials) {
                int i = t.indexOf(s, pos);
                if (i >= 0 && (best < 0 || i < best)) {
                    best = i;
                    which = s;
                }
            }
            int end = best < 0 ? t.length() : best;
            for (String word : basicTokens(t.substring(pos, end))) wordPiece(word, out);
            if (best < 0) break;
            out.add(vocab.get(which));
            pos = best + which.length();
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** BertNormalizer + BertPreTokenizer: clean, CJK spacing, whitespace split, lowercase + strip accents, punctuation split. */
    List<String> basicTokens(String text) {
        StringBuilder sb = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(cp -> {
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) return;  // first: VT, FF and NEL are controls here
            if (isWhitespace(cp)) sb.append(' ');
            else if (options.splitChinese() && isCjk(cp)) sb.append(' ').appendCodePoint(cp).append(' ');
            else sb.appendCodePoint(cp);
        });
        List<String> out = new ArrayList<>();
        for (String w : sb.toString().split(" ")) {  // no NFC: the Rust BertNormalizer has none
            if (w.isEmpty()) continue;
            if (options.lowerCase()) w = lowerEachCodePoint(w);
            if (options.strip()) w = Normalizer.normalize(w, Normalizer.Form.NFD).replaceAll("\\p{Mn}", "");
            StringBuilder cur = new StringBuilder();
            for (int i = 0; i < w.length(); ) {
                int cp = w.codePointAt(i);
                i += Character.charCount(cp);
                if (isPunctuation(cp)) {
                    if (cur.length() > 0) out.add(cur.toString());
                    cur.setLength(0);
                    out.add(new String(Character.toChars(cp)));
                } else {
                    cur.appendCodePoint(cp);
                }
            }
            if (cur.length() > 0) out.add(cur.toString());
        }
        return out;
    }

    /** Greedy longest-match-first; no match at some position, or too long a word: the whole word is [UNK]. */
    private void wordPiece(String word, List<Integer> out) {
        if (word.codePointCount(0, word.length()) > options.maxInputCharsPerWord()) {
            out.add(unk);
            return;
        }
        int mark = out.size();
        int start = 0;
        while (start < word.length()) {
            int end = word.length();
            Integer id = null;
            while (end > start) {
                String piece = start > 0 ? "##" + word.substring(start, end) : word.substring(start, end);
                id = vocab.get(piece);
                if (id != null) break;
                end = word.offsetByCodePoints(end, -1);
            }
            if (id == null) {
                out.subList(mark, out.size()).clear();
                out.add(unk);
                return;
            }
            out.add(id);
            start = end;
        }
    }

    /** Rust's per-char {@code to_lowercase}: full mappings (İ -> i̇) but no context (a final Σ stays σ). */
    private static String lowerEachCodePoint(String w) {
        StringBuilder sb = new StringBuilder(w.length());
        w.codePoints().forEach(cp -> sb.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT)));
        return sb.toString();
    }

    /** Unicode White_Space (Rust's char::is_whitespace): Zs, Zl, Zp, tab..CR, NEL; not U+001C..U+001F. */
    private static boolean isWhitespace(int cp) {
        if (cp >= 0x1C && cp <= 0x1F) return false;
        return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
    }

    /** Cc, Cf, Co, Cs except tab, newline and carriage return (tokenizers' is_control; unassigned Cn is kept). */
    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') return false;
        int t = Character.getType(cp);
        return t == Character.CONTROL || t == Character.FORMAT || t == Character.PRIVATE_USE || t == Character.SURROGATE;
    }

    /** ASCII 33-47, 58-64, 91-96, 123-126, or a Unicode P* category (HF _is_punctuation). */
    private static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
        int t = Character.getType(cp);
        return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION || t == Character.START_PUNCTUATION
                || t == Character.END_PUNCTUATION || t == Character.INITIAL_QUOTE_PUNCTUATION
                || t == Character.FINAL_QUOTE_PUNCTUATION || t == Character.OTHER_PUNCTUATION;
    }

    /** The CJK ideograph ranges tokenizers' BertNormalizer spaces out (its fifth range starts at U+2B920). */
    private static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    @Override
    public Encoding encode(String text, int ctx) {
        if (ctx < 2) throw new IllegalArgumentException("context must be >= 2, got " + ctx);
        return Tokenizer.wrap(tokenize(text), cls, sep, pad, ctx);  // [CLS] ids [SEP]: truncation keeps the head and [SEP]
    }

    @Override
    public int defaultContext() { return options.context(); }

    @Override
    public int padId() { return pad; }

    @Override
    public int vocabSize() { return vocab.size(); }

    public Options options() { return options; }

    /** The id of a vocabulary entry, or empty. */
    public java.util.OptionalInt id(String token) {
        Integer id = vocab.get(token);
        return id == null ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(id);
    }
}
