package io.vlm4j.text;

import io.vlm4j.io.ModelFormatException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A SentencePiece unigram model read from a {@code spiece.model} file (a {@code sentencepiece.ModelProto},
 * sentencepiece_model.proto), encoding exactly as {@code SentencePieceProcessor::Encode} of sentencepiece 0.2 does:
 * {@link SentencePieceNormalizer}, then the optimized Viterbi of {@code unigram_model.cc} ({@code EncodeOptimized}),
 * then {@code PopulateSentencePieceText}: runs of unknown pieces merged into one, or with {@code byte_fallback} each
 * unknown piece written as its UTF-8 bytes {@code <0xXX>}.
 *
 * <p>Viterbi details that decide ties and rounding: path scores are float sums (sentencepiece 0.2.2 behaves so; the
 * v0.2.0 C++ source would compare a double sum with the stored float, which chooses differently on some scores, see
 * the handmade fixture); a candidate replaces the stored path only when strictly better, positions are tried from
 * left to right and pieces from short to long, so the first path found wins a tie; a user-defined piece scores
 * {@code len_bytes·max_score − 0.1} ({@code max_score} over NORMAL pieces, starting from FLT_MIN); UNUSED pieces are
 * skipped; a character that no piece covers alone gets the unknown id with score {@code min_score − 10}. Only
 * model_type UNIGRAM is supported.
 * Immutable.
 */
final class SentencePieceModel {
    enum Type { NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE }

    private static final Type[] TYPES = {null, Type.NORMAL, Type.UNKNOWN, Type.CONTROL, Type.USER_DEFINED, Type.UNUSED, Type.BYTE};
    private static final String[] MODEL_TYPES = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
    private static final float UNK_PENALTY = 10.0f;

    /** One piece of the result: its text (for an unknown run, the normalized text it covers) and id. */
    record Piece(String piece, int id) {}

    private final String[] pieces;
    private final float[] scores;
    private final Type[] types;
    private final Map<String, Integer> normalIds = new HashMap<>(), reservedIds = new HashMap<>();
    private final int unkId;
    private final boolean byteFallback;
    private final int[] byteIds = new int[256];
    private final float minScore, maxScore;
    private final ByteTrie trie;  // NORMAL, USER_DEFINED and UNUSED pieces
    private final SentencePieceNormalizer normalizer;

    private SentencePieceModel(Proto p, Path file) throws ModelFormatException {
        int n = p.pieces.size();
        if (n == 0) throw new ModelFormatException(file, "the model has no pieces");
        pieces = new String[n];
        scores = new float[n];
        types = new Type[n];
        byteFallback = p.byteFallback;
        Arrays.fill(byteIds, -1);
        int unk = -1;
        float min = Float.MAX_VALUE, max = Float.MIN_NORMAL;  // FLT_MAX and FLT_MIN, as unigram_model.cc starts them
        List<byte[]> keys = new ArrayList<>(), userKeys = new ArrayList<>();
        List<Integer> keyIds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            PieceProto pp = p.pieces.get(i);
            pieces[i] = pp.piece;
            scores[i] = pp.score;
            types[i] = pp.type;
            if (pp.piece.isEmpty()) throw new ModelFormatException(file, "piece " + i + " is empty");
            boolean normal = pp.type == Type.NORMAL || pp.type == Type.USER_DEFINED || pp.type == Type.UNUSED;
            Integer prev = (normal ? normalIds : reservedIds).putIfAbsent(pp.piece, i);
            if (prev != null) throw new ModelFormatException(file, "piece '" + pp.piece + "' is defined twice (ids " + prev + " and " + i + ")");
            if (normal) {
                keys.add(pp.piece.getBytes(StandardCharsets.UTF_8));
                keyIds.add(i);
            }
            if (pp.type == Type.USER_DEFINED) userKeys.add(pp.piece.getBytes(StandardCharsets.UTF_8));
            if (pp.type == Type.NORMAL) {
                min = Math.min(min, pp.score);
                max = Math.max(max, pp.score);
            }
            if (pp.type == Type.UNKNOWN) {
                if (unk >= 0) throw new ModelFormatException(file, "two UNKNOWN pieces (ids " + unk + " and " + i + ")");
                unk = i;
            }
            if (pp.type == Type.BYTE) {
                if (!byteFallback) throw new ModelFormatException(file, "byte piece " + pp.piece + " (id " + i + ") but byte_fallback is false");
                int b = pieceToByte(pp.piece);
                if (b < 0) throw new ModelFormatException(file, "byte piece '" + pp.piece + "' (id " + i + ") is not <0xXX>");
                byteIds[b] = i;
            }
        }
        if (unk < 0) throw new ModelFormatException(file, "the model has no UNKNOWN piece");
        if (byteFallback && Arrays.stream(byteIds).anyMatch(id -> id < 0)) {
            throw new ModelFormatException(file, "byte_fallback is true but not all 256 byte pieces <0x00>..<0xFF> are present");
        }
        if (keys.isEmpty()) throw new ModelFormatException(file, "the model has no NORMAL, USER_DEFINED or UNUSED piece");
        unkId = unk;
        minScore = min;
        maxScore = max;
        trie = ByteTrie.build(keys.toArray(byte[][]::new), keyIds.stream().mapToInt(Integer::intValue).toArray());
        ByteTrie user = ByteTrie.build(userKeys.toArray(byte[][]::new), new int[userKeys.size()]);
        normalizer = new SentencePieceNormalizer(p.charsmap, user, p.addDummyPrefix, p.removeExtraWhitespaces,
                p.escapeWhitespaces, p.treatWhitespaceAsSuffix, file);
    }

    static SentencePieceModel load(Path file) throws IOException {
        long size = Files.size(file);
        if (size > (1L << 30)) throw new ModelFormatException(file, "is " + size + " bytes; a SentencePiece model is far smaller");
        return parse(Files.readAllBytes(file), file);
    }

    /** Parses a serialized ModelProto; {@code file} names it in errors. */
    static SentencePieceModel parse(byte[] data, Path file) throws ModelFormatException {
        if (data.length == 0) throw new ModelFormatException(file, "is empty, not a SentencePiece model");
        Proto p = new Proto();
        ProtoReader r = new ProtoReader(data, file);
        while (r.hasMore()) {
            int tag = r.tag();
            switch (tag >>> 3) {
                case 1 -> {
                    r.expect(tag, ProtoReader.LEN, "pieces");
                    p.pieces.add(readPiece(r.message(), p.pieces.size()));
                }
                case 2 -> {
                    r.expect(tag, ProtoReader.LEN, "trainer_spec");
                    readTrainerSpec(r.message(), p);
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.LEN, "normalizer_spec");
                    readNormalizerSpec(r.message(), p);
                }
                default -> r.skip(tag);
            }
        }
        if (p.pieces.isEmpty()) throw new ModelFormatException(file, "has no pieces (field 1 of ModelProto): not a SentencePiece model");
        if (p.modelType != 1) {
            String name = p.modelType >= 0 && p.modelType < MODEL_TYPES.length ? MODEL_TYPES[p.modelType] : "unknown (" + p.modelType + ")";
            throw new ModelFormatException(file, "model_type " + name + " is not supported; only UNIGRAM (T5 / SigLIP style) is");
        }
        return new SentencePieceModel(p, file);
    }

    private static PieceProto readPiece(ProtoReader r, int index) throws ModelFormatException {
        int start = r.offset();
        String piece = null;
        float score = 0;
        Type type = Type.NORMAL;
        while (r.hasMore()) {
            int tag = r.tag();
            switch (tag >>> 3) {
                case 1 -> {
                    r.expect(tag, ProtoReader.LEN, "piece");
                    piece = r.string("piece " + index);
                }
                case 2 -> {
                    r.expect(tag, ProtoReader.FIXED32, "score");
                    score = r.fixed32Float();
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.VARINT, "type");
                    long t = r.varint();
                    if (t < 1 || t >= TYPES.length) throw r.error(start, "piece " + index + " has unknown type " + t);
                    type = TYPES[(int) t];
                }
                default -> r.skip(tag);
            }
        }
        if (piece == null) throw r.error(start, "piece " + index + " has no text");
        return new PieceProto(piece, score, type);
    }

    private static void readTrainerSpec(ProtoReader r, Proto p) throws ModelFormatException {
        while (r.hasMore()) {
            int tag = r.tag();
            int field = tag >>> 3;
            if (field == 3 || field == 24 || field == 35) {
                r.expect(tag, ProtoReader.VARINT, field == 3 ? "model_type" : field == 24 ? "treat_whitespace_as_suffix" : "byte_fallback");
                long v = r.varint();
                if (field == 3) p.modelType = v < 0 || v > 1000 ? -1 : (int) v;
                else if (field == 24) p.treatWhitespaceAsSuffix = v != 0;
                else p.byteFallback = v != 0;
            } else {
                r.skip(tag);  // ids and names of special pieces are taken from the pieces' types, as sentencepiece does
            }
        }
    }

    private static void readNormalizerSpec(ProtoReader r, Proto p) throws ModelFormatException {
        while (r.hasMore()) {
            int tag = r.tag();
            switch (tag >>> 3) {
                case 2 -> {
                    r.expect(tag, ProtoReader.LEN, "precompiled_charsmap");
                    p.charsmap = r.bytes();
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.VARINT, "add_dummy_prefix");
                    p.addDummyPrefix = r.bool();
                }
                case 4 -> {
                    r.expect(tag, ProtoReader.VARINT, "remove_extra_whitespaces");
                    p.removeExtraWhitespaces = r.bool();
                }
                case 5 -> {
                    r.expect(tag, ProtoReader.VARINT, "escape_whitespaces");
                    p.escapeWhitespaces = r.bool();
                }
                default -> r.skip(tag);  // name, normalization_rule_tsv: only used when training
            }
        }
    }

    private record PieceProto(String piece, float score, Type type) {}

    /** The fields of ModelProto that encoding uses, with proto2's defaults; a repeated sub-message merges. */
    private static final class Proto {
        final List<PieceProto> pieces = new ArrayList<>();
        int modelType = 1;
        boolean byteFallback, treatWhitespaceAsSuffix;
        byte[] charsmap = new byte[0];
        boolean addDummyPrefix = true, removeExtraWhitespaces = true, escapeWhitespaces = true;
    }

    int size() {
        return pieces.length;
    }

    String piece(int id) {
        return pieces[id];
    }

    Type type(int id) {
        return types[id];
    }

    int unkId() {
        return unkId;
    }

    /** SentencePieceProcessor::PieceToId: CONTROL/UNKNOWN/BYTE pieces first, then the others, else the unknown id. */
    int pieceToId(String piece) {
        Integer id = reservedIds.get(piece);
        if (id == null) id = normalIds.get(piece);
        return id == null ? unkId : id;
    }

    /** Whether {@code piece} is the text of a piece of the model (of any type). */
    boolean hasPiece(String piece) {
        return reservedIds.containsKey(piece) || normalIds.containsKey(piece);
    }

    /** The ids of {@code text}, as {@code SentencePieceProcessor.encode_as_ids}. */
    int[] encodeIds(String text) {
        return encode(text).stream().mapToInt(Piece::id).toArray();
    }

    /** The pieces of {@code text}, as {@code SentencePieceProcessor.encode(text, out_type=str)} with their ids. */
    List<Piece> encode(String text) {
        byte[] norm = normalizer.normalize(text.getBytes(StandardCharsets.UTF_8));
        int n = norm.length;
        List<Piece> out = new ArrayList<>();
        if (n == 0) return out;
        // best path ending at each byte position: score, start of its last piece, id of its last piece
        float[] best = new float[n + 1];
        int[] startOf = new int[n + 1], idOf = new int[n + 1];
        Arrays.fill(startOf, -1);
        float unkScore = minScore - UNK_PENALTY;
        for (int start = 0, charLen; start < n; start += charLen) {
            charLen = Math.min(SentencePieceNormalizer.charLength(norm[start]), n - start);
            float sofar = best[start];
            boolean singleChar = false;
            for (int node = ByteTrie.ROOT, k = start; k < n; k++) {
                node = trie.child(node, norm[k] & 0xFF);
                if (node < 0) break;
                int id = trie.value(node);
                if (id < 0 || types[id] == Type.UNUSED) continue;
                int end = k + 1, len = end - start;
                float score = types[id] == Type.USER_DEFINED ? (float) ((double) (len * maxScore) - 0.1) : scores[id];
                float candidate = score + sofar;
                if (startOf[end] == -1 || candidate > best[end]) {
                    best[end] = candidate;
                    startOf[end] = start;
                    idOf[end] = id;
                }
                if (len == charLen) singleChar = true;
            }
            if (!singleChar) {
                int end = start + charLen;
                float candidate = unkScore + sofar;
                if (startOf[end] == -1 || candidate > best[end]) {
                    best[end] = candidate;
                    startOf[end] = start;
                    idOf[end] = unkId;
                }
            }
        }
        int count = 0;
        int[] ends = new int[n];
        for (int end = n; end > 0; end = startOf[end]) ends[count++] = end;
        boolean prevUnk = false;
        for (int i = count - 1; i >= 0; i--) {
            int end = ends[i], start = startOf[end], id = idOf[end];
            boolean unk = types[id] == Type.UNKNOWN;
            if (unk && byteFallback) {
                for (int b = start; b < end; b++) out.add(new Piece(pieces[byteIds[norm[b] & 0xFF]], byteIds[norm[b] & 0xFF]));
            } else if (unk && prevUnk) {
                Piece last = out.remove(out.size() - 1);
                out.add(new Piece(last.piece() + new String(norm, start, end - start, StandardCharsets.UTF_8), id));
            } else {
                out.add(new Piece(unk ? new String(norm, start, end - start, StandardCharsets.UTF_8) : pieces[id], id));
            }
            prevUnk = unk;
        }
        return out;
    }

    private static int pieceToByte(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') return -1;
        int hi = HEX.indexOf(piece.charAt(3)), lo = HEX.indexOf(piece.charAt(4));  // ByteToPiece writes %02X
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    private static final String HEX = "0123456789ABCDEF";
}
