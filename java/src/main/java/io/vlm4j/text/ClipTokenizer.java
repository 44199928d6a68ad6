package io.vlm4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * CLIP's byte-level BPE tokenizer (spec 03), as OpenAI's {@code SimpleTokenizer} and {@code clip.tokenize(truncate=True)}:
 * {@link TextCleaner#clean} (ftfy, double HTML unescape, whitespace, lowercase), the pre-tokenization regex, UTF-8
 * bytes mapped to printable characters, BPE by merge rank with {@code </w>} on each word's last symbol, then
 * {@code <|startoftext|> ids <|endoftext|>}, truncated keeping the end token, padded.
 *
 * <p>Reads HF {@code tokenizer.json}, {@code vocab.json} + {@code merges.txt}, or OpenAI's
 * {@code bpe_simple_vocab_16e6.txt.gz}. The pad id is 0 (OpenAI / open_clip) unless a {@code tokenizer_config.json}
 * or {@code special_tokens_map.json} beside the files names a pad token (HF style, usually {@code <|endoftext|>}).
 * Immutable and thread-safe; BPE results per word are cached.
 */
public final class ClipTokenizer implements Tokenizer {
    public static final String SOT = "<|startoftext|>";
    public static final String EOT = "<|endoftext|>";
    /** merges used by OpenAI: 49152 - 256 - 2 (spec 03 §1.1) */
    static final int OPENAI_MERGES = 48_894;
    private static final int CACHE_LIMIT = 200_000;
    private static final Pattern PRE_TOKENIZE = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);

    private final Map<String, Integer> vocab;
    private final int[] byteId;     // [256] id of the byte's symbol
    private final int[] byteEndId;  // [256] id of the byte's symbol + "</w>"
    private final Map<Long, long[]> merges;  // (left id, right id) -> {rank, merged id}
    private final int sot, eot, pad, context;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();
    private volatile String[] idToToken;  // built on first use of piece()

    private ClipTokenizer(Map<String, Integer> vocab, List<String[]> mergeList, Path source, int pad, int context)
            throws ModelFormatException {
        this.vocab = vocab;
        char[] table = bytesToUnicode();
        byteId = new int[256];
        byteEndId = new int[256];
        for (int b = 0; b < 256; b++) {
            byteId[b] = require(source, String.valueOf(table[b]));
            byteEndId[b] = require(source, table[b] + "</w>");
        }
        merges = new HashMap<>(mergeList.size() * 2);
        for (int r = 0; r < mergeList.size(); r++) {
            String[] m = mergeList.get(r);
            long key = pairKey(require(source, m[0]), require(source, m[1]));
            merges.putIfAbsent(key, new long[] {r, require(source, m[0] + m[1])});
        }
        sot = require(source, SOT);
        eot = require(source, EOT);
        this.pad = pad;
        this.context = context;
    }

    private int require(Path source, String token) throws ModelFormatException {
        Integer id = vocab.get(token);
        if (id == null) throw new ModelFormatException(source, "token '" + token + "' (needed by the byte table or a merge) is not in the vocabulary");
        return id;
    }

    private static long pairKey(int a, int b) { return ((long) a << 32) | (b & 0xFFFFFFFFL); }

    /**
     * Loads from a directory (tokenizer.json, else vocab.json + merges.txt, else bpe_simple_vocab_16e6.txt.gz) or from
     * one of those files.
     */
    public static ClipTokenizer load(Path path) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString());
        Path dir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        Path file = Files.isDirectory(path) ? null : path;
        Path json = dir.resolve("tokenizer.json"), vocabJson = dir.resolve("vocab.json"), mergesTxt = dir.resolve("merges.txt");
        Path gz = dir.resolve("bpe_simple_vocab_16e6.txt.gz");
        Settings settings = Settings.read(dir);
        if (file != null ? file.getFileName().toString().equals("tokenizer.json") : Files.isRegularFile(json)) {
            return fromTokenizerJson(file != null ? file : json, settings);
        }
        if (file != null && file.getFileName().toString().endsWith(".gz") || file == null && !Files.isRegularFile(vocabJson) && Files.isRegularFile(gz)) {
            return fromOpenAiBpe(file != null ? file : gz, settings);
        }
        if (!Files.isRegularFile(vocabJson)) throw new NoSuchFileException(vocabJson.toString(), null, "no CLIP tokenizer files here");
        if (!Files.isRegularFile(mergesTxt)) throw new NoSuchFileException(mergesTxt.toString(), null, "vocab.json needs merges.txt beside it");
        return fromVocabAndMerges(vocabJson, mergesTxt, settings);
    }

    /** HF slow-tokenizer files: vocab.json and merges.txt (header line, then the first 48,894 merges). */
    public static ClipTokenizer fromVocabAndMerges(Path vocabJson, Path mergesTxt, Settings settings) throws IOException {
        Map<String, Integer> vocab = readVocab(vocabJson, StrictJson.parseObject(vocabJson, "vocabulary", Files.readAllBytes(vocabJson)));
        List<String> lines = Arrays.asList(new String(Files.readAllBytes(mergesTxt), StandardCharsets.UTF_8).strip().split("\n"));
        List<String[]> merges = parseMerges(mergesTxt, lines.subList(Math.min(1, lines.size()), Math.min(lines.size(), OPENAI_MERGES + 1)), 2);
        return new ClipTokenizer(vocab, merges, mergesTxt, settings.padId(vocab, mergesTxt), settings.context);
    }

    /** HF fast-tokenizer file: model.vocab and model.merges ("a b" strings or [a, b] pairs), all merges used. */
    public static ClipTokenizer fromTokenizerJson(Path file, Settings settings) throws IOException {
        JsonNode root = StrictJson.parseObject(file, "tokenizer", Files.readAllBytes(file));
        JsonNode model = root.path("model");
        if (!model.path("type").asText("BPE").equals("BPE")) {
            throw new ModelFormatException(file, "model.type is '" + model.path("type").asText() + "', not BPE");
        }
        if (!model.path("vocab").isObject()) throw new ModelFormatException(file, "model.vocab is missing or not an object");
        if (!model.path("merges").isArray()) throw new ModelFormatException(file, "model.merges is missing or not an array");
        Map<String, Integer> vocab = readVocab(file, model.get("vocab"));
        for (JsonNode t : root.path("added_tokens")) {
            if (t.path("content").isTextual() && t.path("id").canConvertToInt()) vocab.putIfAbsent(t.get("content").asText(), t.get("id").asInt());
        }
        List<String[]> merges = new ArrayList<>();
        int i = 0;
        for (JsonNode m : model.get("merges")) {
            if (m.isTextual()) {
                merges.add(parseMerge(file, m.asText(), i));
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                merges.add(new String[] {m.get(0).asText(), m.get(1).asText()});
            } else {
                throw new ModelFormatException(file, "model.merges[" + i + "] is neither \"a b\" nor [\"a\", \"b\"]");
            }
            i++;
        }
        return new ClipTokenizer(vocab, merges, file, settings.padId(vocab, file), settings.context);
    }

    /** OpenAI's gzip file: the vocabulary is built from the byte table and the first 48,894 merges (spec 03 §2). */
    public static ClipTokenizer fromOpenAiBpe(Path gz, Settings settings) throws IOException {
        String text;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            text = out.toString(StandardCharsets.UTF_8);
        } catch (java.util.zip.ZipException | java.io.EOFException e) {
            throw new ModelFormatException(gz, "not a valid gzip file: " + e.getMessage());
        }
        String[] lines = text.split("\n", -1);
        if (lines.length < OPENAI_MERGES + 1) {
            throw new ModelFormatException(gz, "has " + (lines.length - 1) + " merge lines, expected at least " + OPENAI_MERGES);
        }
        List<String[]> merges = parseMerges(gz, Arrays.asList(lines).subList(1, OPENAI_MERGES + 1), 2);
        char[] order = baseSymbolOrder();
        Map<String, Integer> vocab = new HashMap<>(65536);
        for (char c : order) vocab.put(String.valueOf(c), vocab.size());
        for (char c : order) vocab.put(c + "</w>", vocab.size());
        for (String[] m : merges) vocab.putIfAbsent(m[0] + m[1], vocab.size());
        vocab.put(SOT, vocab.size());
        vocab.put(EOT, vocab.size());
        return new ClipTokenizer(vocab, merges, gz, settings.padId(vocab, gz), settings.context);
    }

    private static Map<String, Integer> readVocab(Path file, JsonNode obj) throws ModelFormatException {
        Map<String, Integer> vocab = new HashMap<>(obj.size() * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = obj.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw new ModelFormatException(file, "vocabulary entry '" + e.getKey() + "' has id " + e.getValue() + ", not a non-negative int");
            }
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        if (vocab.isEmpty()) throw new ModelFormatException(file, "the vocabulary is empty");
        return vocab;
    }

    private static List<String[]> parseMerges(Path file, List<String> lines, int firstLine) throws ModelFormatException {
        List<String[]> out = new ArrayList<>(lines.size());
        for (int i = 0; i < lines.size(); i++) out.add(parseMerge(file, lines.get(i), i + firstLine));
        return out;
    }

    private static String[] parseMerge(Path file, String line, int lineNo) throws ModelFormatException {
        String l = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        int sp = l.indexOf(' ');
        if (sp <= 0 || sp == l.length() - 1 || l.indexOf(' ', sp + 1) >= 0) {
            throw new ModelFormatException(file, "merge " + lineNo + " is not two symbols separated by one space: '" + l + "'");
        }
        return new String[] {l.substring(0, sp), l.substring(sp + 1)};
    }

    /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100.. in byte order. */
    static char[] bytesToUnicode() {
        char[] t = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            t[b] = (char) (self ? b : next++);
        }
        return t;
    }

    /** The 256 base symbols in vocabulary order: the self-mapped bytes ascending, then the remapped ones (spec 03 §2.1). */
    static char[] baseSymbolOrder() {
        char[] t = bytesToUnicode(), out = new char[256];
        int n = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int b = 0; b < 256; b++) if ((t[b] == b) == (pass == 0)) out[n++] = t[b];
        }
        return out;
    }

    @Override
    public int[] tokenize(String text) {
        String cleaned = TextCleaner.clean(text);
        int[] out = new int[16];
        int n = 0;
        Matcher m = PRE_TOKENIZE.matcher(cleaned);
        while (m.find()) {
            int[] ids = word(m.group());
            if (n + ids.length > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, n + ids.length));
            System.arraycopy(ids, 0, out, n, ids.length);
            n += ids.length;
        }
        return Arrays.copyOf(out, n);
    }

    /** The BPE ids of one pre-token (cached; special-token literals map to their ids directly). */
    private int[] word(String token) {
        int[] hit = cache.get(token);
        if (hit != null) return hit;
        int[] ids;
        if (token.equals(SOT)) ids = new int[] {sot};
        else if (token.equals(EOT)) ids = new int[] {eot};
        else ids = bpe(token.getBytes(StandardCharsets.UTF_8));
        if (cache.size() >= CACHE_LIMIT) cache.clear();
        cache.put(token, ids);
        return ids;
    }

    /** Spec 03 §5: merge the lowest-ranked adjacent pair everywhere, left to right, until none is left. */
    int[] bpe(byte[] bytes) {  // package-private for the reference check in tests
        int n = bytes.length;
        int[] s = new int[n];
        for (int i = 0; i < n; i++) s[i] = i == n - 1 ? byteEndId[bytes[i] & 0xFF] : byteId[bytes[i] & 0xFF];
        while (n > 1) {
            long bestRank = Long.MAX_VALUE;
            int left = -1, right = -1, merged = -1;
            for (int i = 0; i + 1 < n; i++) {
                long[] m = merges.get(pairKey(s[i], s[i + 1]));
                if (m != null && m[0] < bestRank) {
                    bestRank = m[0];
                    left = s[i];
                    right = s[i + 1];
                    merged = (int) m[1];
                }
            }
            if (left < 0) break;
            int w = 0;
            for (int i = 0; i < n; i++) {
                if (i + 1 < n && s[i] == left && s[i + 1] == right) {
                    s[w++] = merged;
                    i++;
                } else {
                    s[w++] = s[i];
                }
            }
            n = w;
        }
        return Arrays.copyOf(s, n);
    }

    @Override
    public Encoding encode(String text, int ctx) {
        if (ctx < 2) throw new IllegalArgumentException("context must be >= 2, got " + ctx);
        return Tokenizer.wrap(tokenize(text), sot, eot, pad, ctx);  // OpenAI truncate=True: the end token stays last
    }

    @Override
    public int defaultContext() { return context; }

    @Override
    public int padId() { return pad; }

    @Override
    public int vocabSize() { return vocab.size(); }

    /** The vocabulary string of an id (the BPE piece, e.g. {@code "photo</w>"}). */
    public String piece(int id) {
        String[] t = idToToken;
        if (t == null) {
            t = new String[vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1];
            for (Map.Entry<String, Integer> e : vocab.entrySet()) t[e.getValue()] = e.getKey();
            idToToken = t;
        }
        if (id < 0 || id >= t.length || t[id] == null) throw new IllegalArgumentException("id " + id + " is not in the vocabulary");
        return t[id];
    }

    public int startId() { return sot; }

    public int endId() { return eot; }

    /** Optional settings beside the vocabulary files (HF tokenizer_config.json / special_tokens_map.json). */
    public record Settings(String padToken, int context) {
        public static final Settings OPENAI = new Settings(null, 77);

        /** pad_token and model_max_length from the directory's HF config files, when present. */
        static Settings read(Path dir) throws IOException {
            String pad = null;
            int ctx = 77;
            for (String name : new String[] {"special_tokens_map.json", "tokenizer_config.json"}) {
                Path f = dir.resolve(name);
                if (!Files.isRegularFile(f)) continue;
                JsonNode root = StrictJson.parseObject(f, "tokenizer settings", Files.readAllBytes(f));
                JsonNode p = root.path("pad_token");
                if (p.isTextual()) pad = p.asText();
                else if (p.path("content").isTextual()) pad = p.get("content").asText();
                JsonNode max = root.path("model_max_length");
                if (max.canConvertToInt() && max.asInt() >= 2 && max.asInt() <= 1_000_000) ctx = max.asInt();
            }
            return new Settings(pad, ctx);
        }

        int padId(Map<String, Integer> vocab, Path source) throws ModelFormatException {
            if (padToken == null) return 0;
            Integer id = vocab.get(padToken);
            if (id == null) throw new ModelFormatException(source, "pad token '" + padToken + "' is not in the vocabulary");
            return id;
        }
    }
}
