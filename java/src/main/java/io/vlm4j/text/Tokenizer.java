package io.vlm4j.text;

import io.vlm4j.tensor.Tensor;
import java.util.List;

/**
 * Text to token ids for a text tower: CLIP byte-level BPE ({@link ClipTokenizer}), BERT WordPiece
 * ({@link BertTokenizer}) or SigLIP's SentencePiece ({@link SentencePieceTokenizer}). Implementations are immutable
 * after loading and safe to share between threads.
 */
public interface Tokenizer {

    /** One text's model input: ids [context] and attention mask [context] (1 for real tokens, 0 for padding). */
    record Encoding(int[] ids, int[] attentionMask) {}

    /** The ids of the text's pieces, without start/end tokens, truncation or padding. */
    int[] tokenize(String text);

    /**
     * The model input for one text: start token, ids, end token, truncated to {@code context} with the end token
     * kept last, padded to {@code context} with {@link #padId()} (SigLIP has no start token).
     */
    Encoding encode(String text, int context);

    /** The context length the model was trained with (77 for CLIP, 256 or 512 for BERT-style towers, 64 for SigLIP). */
    int defaultContext();

    /** The id used for padding (0 for OpenAI / open_clip style CLIP, the vocabulary's [PAD] for BERT, 1 for SigLIP). */
    int padId();

    int vocabSize();

    /**
     * {@code start body end}, truncated to {@code context} keeping {@code end} last, padded with {@code pad}; the
     * attention mask is 1 over the real tokens. Shared by the implementations of {@link #encode}.
     */
    static Encoding wrap(int[] body, int start, int end, int pad, int context) {
        if (context < 2) throw new IllegalArgumentException("context must be >= 2, got " + context);
        int[] ids = new int[context], mask = new int[context];
        java.util.Arrays.fill(ids, pad);
        int len = Math.min(context, body.length + 2);
        ids[0] = start;
        System.arraycopy(body, 0, ids, 1, len - 2);
        ids[len - 1] = end;
        java.util.Arrays.fill(mask, 0, len, 1);
        return new Encoding(ids, mask);
    }

    /** Encodes every text (in parallel for long lists) into I32 [N, context]; the caller owns the tensor. */
    default Tensor encodeBatch(List<String> texts, int context) {
        if (context < 2) throw new IllegalArgumentException("context must be >= 2, got " + context);
        int n = texts.size();
        int[] flat = new int[Math.multiplyExact(n, context)];
        java.util.stream.IntStream.range(0, n).parallel().forEach(i -> {
            int[] ids = encode(texts.get(i), context).ids();
            System.arraycopy(ids, 0, flat, i * context, context);
        });
        return Tensor.ofInts(flat, n, context);
    }

    /** {@link #encodeBatch(List, int)} with the attention masks, I32 [N, context]. */
    default Tensor attentionMasks(List<String> texts, int context) {
        int n = texts.size();
        int[] flat = new int[Math.multiplyExact(n, context)];
        java.util.stream.IntStream.range(0, n).parallel().forEach(i -> {
            int[] m = encode(texts.get(i), context).attentionMask();
            System.arraycopy(m, 0, flat, i * context, context);
        });
        return Tensor.ofInts(flat, n, context);
    }
}
