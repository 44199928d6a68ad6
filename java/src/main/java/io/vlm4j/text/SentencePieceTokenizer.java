package io.vlm4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * SigLIP's tokenizer (spec 06 §6.2): a SentencePiece unigram model ({@code spiece.model}, {@link SentencePieceModel})
 * with the text preparation of Hugging Face's {@code SiglipTokenizer} in transformers 5.17
 * ({@code models/siglip/tokenization_siglip.py}), which is also what {@code AutoTokenizer} gives for a SigLIP
 * directory. For a text t:
 * <ol>
 *   <li>s = "▁" + t with every "▁" replaced by a space;</li>
 *   <li>s is split around the special tokens written in it ({@code </s>}, {@code <unk>}, the added tokens); the
 *       text beside {@code </s>}/{@code <unk>}/pad is stripped of whitespace on that side;</li>
 *   <li>each other part is canonicalized: lowercased ({@code do_lower_case}, Python's {@code str.lower}), ASCII
 *       punctuation ({@code string.punctuation}) deleted, every run of Python whitespace made one space, stripped;</li>
 *   <li>then encoded as SentencePiece pieces of {@code "<unk>" + part}, dropping as many leading pieces as
 *       {@code "<unk>"} alone gives (HF's workaround for the dummy prefix), and the pieces looked up by text;</li>
 *   <li>a leading lone "▁" piece before a special token is dropped.</li>
 * </ol>
 * {@link #encode}: the ids truncated to {@code context − 1}, then {@code </s>} appended unless they already end with
 * it, then padded with the pad id ({@code </s>} = 1 for SigLIP); there is no start token. The mask is 1 over the
 * real tokens, but SigLIP's text tower is run without one (spec 06: padded to 64, no mask).
 *
 * <p>Variants, measured by {@code models/scripts/make_sentencepiece_fixtures.py} on its 165 texts: transformers
 * 4.x's SiglipTokenizer switched {@code add_dummy_prefix} off in the model (5.17 does so only with
 * {@code legacy=false}); that gives the same ids on every text. open_clip's SigLIP path (clean='canonicalize': ftfy,
 * HTML unescape twice, '_' to a space, punctuation deleted, lowercase, whitespace collapse; then the fast
 * T5TokenizerFast Unigram) gives the same ids on plain prompts, but differs where ftfy or HTML unescaping changes
 * the text (full-width punctuation, curly quotes, control characters, NEL), on '_' (a space there, deleted here) and
 * on literal {@code </s>}/{@code <unk>} (plain text there); fed SiglipTokenizer's own cleaned text, the fast Unigram
 * gives the same ids as SentencePiece on every text without a literal special token. Immutable and safe to share
 * between threads.
 */
public final class SentencePieceTokenizer implements Tokenizer {
    private static final String SPIECE_UNDERLINE = "\u2581";
    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";  // Python's string.punctuation
    static final int DEFAULT_CONTEXT = 64;

    /** A token HF splits the text around before tokenizing: its id and whether it strips whitespace beside it. */
    private record Special(String content, int id, boolean lstrip, boolean rstrip) {}

    private final SentencePieceModel model;
    private final boolean lowerCase;
    private final int context, eosId, padId;
    private final String unkToken;
    private final int unkPrefixPieces;
    private final List<Special> specials;  // in the order HF's trie prefers: longest first at the same position
    private final Map<String, Integer> specialIds = new LinkedHashMap<>();
    private final java.util.Set<String> specialTokens;  // HF's all_special_tokens: eos, unk, pad, additional

    private SentencePieceTokenizer(SentencePieceModel model, boolean lowerCase, int context, String eos, String unk,
                                   String pad, List<Special> added, List<String> additional, Path source) throws ModelFormatException {
        this.model = model;
        this.lowerCase = lowerCase;
        this.context = context;
        Map<String, Special> byContent = new LinkedHashMap<>();
        for (String t : List.of(eos, unk, pad)) byContent.put(t, new Special(t, baseId(model, t, source), true, true));
        for (String t : additional) byContent.putIfAbsent(t, new Special(t, baseId(model, t, source), false, false));
        for (Special s : added) byContent.put(s.content(), s);  // added_tokens_decoder gives ids and strip flags
        List<Special> list = new ArrayList<>(byContent.values());
        list.sort((a, b) -> b.content().length() - a.content().length());
        specials = List.copyOf(list);
        for (Special s : specials) specialIds.put(s.content(), s.id());
        java.util.Set<String> all = new java.util.HashSet<>(List.of(eos, unk, pad));
        all.addAll(additional);
        specialTokens = java.util.Set.copyOf(all);
        eosId = specialIds.get(eos);
        padId = specialIds.get(pad);
        unkToken = unk;
        unkPrefixPieces = model.encode(unk).size();
    }

    private static int baseId(SentencePieceModel model, String token, Path source) throws ModelFormatException {
        if (!model.hasPiece(token)) throw new ModelFormatException(source, "special token '" + token + "' is not a piece of the model");
        return model.pieceToId(token);
    }

    /**
     * From a directory with {@code spiece.model} (or that file); options from {@code tokenizer_config.json} beside it
     * when present (do_lower_case, model_max_length, eos/unk/pad tokens, additional_special_tokens,
     * added_tokens_decoder), else SiglipTokenizer's defaults: lowercase, 64, {@code </s>}, {@code <unk>}, pad {@code </s>}.
     */
    public static SentencePieceTokenizer load(Path path) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString());
        Path file = Files.isDirectory(path) ? path.resolve("spiece.model") : path;
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "no spiece.model here");
        SentencePieceModel model = SentencePieceModel.load(file);
        Path cfgFile = file.toAbsolutePath().getParent().resolve("tokenizer_config.json");
        boolean lower = true;
        int ctx = DEFAULT_CONTEXT;
        String eos = "</s>", unk = "<unk>", pad = "</s>";
        List<Special> added = new ArrayList<>();
        List<String> additional = new ArrayList<>();
        if (Files.isRegularFile(cfgFile)) {
            JsonNode c = StrictJson.readConfig(cfgFile, "tokenizer settings");
            String cls = c.path("tokenizer_class").asText("SiglipTokenizer");
            if (!cls.equals("SiglipTokenizer")) {
                throw new ModelFormatException(cfgFile, "tokenizer_class " + cls + ": only SiglipTokenizer's text preparation is implemented for spiece.model");
            }
            lower = c.path("do_lower_case").asBoolean(true);
            JsonNode max = c.path("model_max_length");
            if (!max.isMissingNode() && !max.isNull()) {
                if (!max.isIntegralNumber() || max.asLong() < 1) throw new ModelFormatException(cfgFile, "model_max_length must be a positive integer, got " + max);
                if (max.canConvertToInt() && max.asInt() <= 1_000_000) ctx = max.asInt();  // larger: HF's "no limit" marker
            }
            eos = tokenText(c, "eos_token", eos, cfgFile);
            unk = tokenText(c, "unk_token", unk, cfgFile);
            pad = tokenText(c, "pad_token", pad, cfgFile);
            for (JsonNode t : c.path("additional_special_tokens")) additional.add(tokenText(t, cfgFile));
            for (Iterator<Map.Entry<String, JsonNode>> it = c.path("added_tokens_decoder").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id;
                try {
                    id = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new ModelFormatException(cfgFile, "added_tokens_decoder key '" + e.getKey() + "' is not an id");
                }
                String content = tokenText(e.getValue(), cfgFile);
                if (id < 0 || id >= model.size() || !model.piece(id).equals(content)) {
                    throw new ModelFormatException(cfgFile, "added token '" + content + "' with id " + id + " is not that piece of the model");
                }
                added.add(new Special(content, id, e.getValue().path("lstrip").asBoolean(false), e.getValue().path("rstrip").asBoolean(false)));
            }
        }
        return new SentencePieceTokenizer(model, lower, ctx, eos, unk, pad, added, additional, file);
    }

    private static String tokenText(JsonNode config, String key, String fallback, Path file) throws ModelFormatException {
        JsonNode n = config.path(key);
        return n.isMissingNode() || n.isNull() ? fallback : tokenText(n, file);
    }

    /** A token written as a string or as an AddedToken object {"content": ...}. */
    private static String tokenText(JsonNode n, Path file) throws ModelFormatException {
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.path("content").isTextual()) return n.get("content").asText();
        throw new ModelFormatException(file, "a token must be a string or {\"content\": ...}, got " + StrictJson.show(n));
    }

    @Override
    public int[] tokenize(String text) {
        return tokens(text).stream().mapToInt(t -> {
            Integer id = specialIds.get(t);
            return id != null ? id : model.pieceToId(t);
        }).toArray();
    }

    /** The token strings of HF's {@code SiglipTokenizer.tokenize}: pieces, and special tokens written in the text. */
    List<String> tokens(String text) {
        List<String> parts = split(SPIECE_UNDERLINE + text.replace(SPIECE_UNDERLINE, " "));
        List<String> out = new ArrayList<>();
        for (String part : parts) {
            if (part.isEmpty()) continue;
            if (specialIds.containsKey(part)) {
                out.add(part);
                continue;
            }
            List<SentencePieceModel.Piece> pieces = model.encode(unkToken + canonicalize(part));
            int skip = pieces.size() >= unkPrefixPieces ? unkPrefixPieces : 0;
            for (SentencePieceModel.Piece p : pieces.subList(skip, pieces.size())) out.add(p.piece());
        }
        // only reachable without remove_extra_whitespaces: otherwise SentencePiece drops a trailing "▁" itself
        if (out.size() > 1 && out.get(0).equals(SPIECE_UNDERLINE) && specialTokens.contains(out.get(1))) out.remove(0);
        return out;
    }

    /**
     * HF's Trie.split (the longest special token at the leftmost position) followed by the lstrip/rstrip of the
     * neighbours, in list order; special tokens come back as their own elements.
     */
    private List<String> split(String s) {
        List<String> parts = new ArrayList<>();
        List<Special> found = new ArrayList<>();
        int last = 0;
        for (int i = 0; i < s.length(); ) {
            Special hit = null;
            for (Special sp : specials) {
                if (s.startsWith(sp.content(), i)) {
                    hit = sp;
                    break;
                }
            }
            if (hit == null) {
                i++;
                continue;
            }
            parts.add(s.substring(last, i));
            found.add(null);
            parts.add(hit.content());
            found.add(hit);
            i += hit.content().length();
            last = i;
        }
        parts.add(s.substring(last));
        found.add(null);
        for (int i = 0; i < parts.size(); i++) {
            Special sp = found.get(i);
            if (sp == null) continue;
            if (sp.rstrip() && i + 1 < parts.size() && !parts.get(i + 1).isEmpty()) parts.set(i + 1, pyLstrip(parts.get(i + 1)));
            if (sp.lstrip() && i > 0 && !parts.get(i - 1).isEmpty()) parts.set(i - 1, pyRstrip(parts.get(i - 1)));
        }
        return parts;
    }

    /** SiglipTokenizer.canonicalize_text: lowercase, delete ASCII punctuation, collapse whitespace, strip. */
    String canonicalize(String text) {
        String t = lowerCase ? text.toLowerCase(Locale.ROOT) : text;
        StringBuilder sb = new StringBuilder(t.length());
        boolean inSpace = false;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (PUNCTUATION.indexOf(c) >= 0) continue;
            if (TextCleaner.isPySpace(c)) {
                if (!inSpace) sb.append(' ');
                inSpace = true;
            } else {
                sb.append(c);
                inSpace = false;
            }
        }
        return TextCleaner.pyStrip(sb.toString());
    }

    private static String pyLstrip(String s) {
        int b = 0;
        while (b < s.length() && TextCleaner.isPySpace(s.charAt(b))) b++;
        return s.substring(b);
    }

    private static String pyRstrip(String s) {
        int e = s.length();
        while (e > 0 && TextCleaner.isPySpace(s.charAt(e - 1))) e--;
        return s.substring(0, e);
    }

    /**
     * HF's {@code tokenizer(text, padding="max_length", truncation=True, max_length=context)}: ids truncated to
     * {@code context − 1}, {@code </s>} appended unless already last, padded with the pad id.
     */
    @Override
    public Encoding encode(String text, int context) {
        if (context < 1) throw new IllegalArgumentException("context must be >= 1, got " + context);
        int[] body = tokenize(text);
        int len = Math.min(body.length, context - 1);
        boolean addEos = len == 0 || body[len - 1] != eosId;
        int[] ids = new int[context], mask = new int[context];
        Arrays.fill(ids, padId);
        System.arraycopy(body, 0, ids, 0, len);
        if (addEos) ids[len++] = eosId;
        Arrays.fill(mask, 0, len, 1);
        return new Encoding(ids, mask);
    }

    @Override
    public int defaultContext() {
        return context;
    }

    @Override
    public int padId() {
        return padId;
    }

    public int eosId() {
        return eosId;
    }

    @Override
    public int vocabSize() {
        return model.size();
    }

    /** The raw SentencePiece ids of {@code text}, without SigLIP's preparation ({@code encode_as_ids}). */
    public int[] sentencePieceIds(String text) {
        return model.encodeIds(text);
    }
}
