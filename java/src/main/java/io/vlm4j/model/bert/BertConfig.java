package io.vlm4j.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.backend.Activation;
import io.vlm4j.io.ConfigFields;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The hyper-parameters of an HF {@code BertModel} (transformers/models/bert/configuration_bert.py; spec 04 §2, §8):
 * the field names of {@code config.json} are {@code vocab_size}, {@code hidden_size}, {@code num_hidden_layers},
 * {@code num_attention_heads}, {@code intermediate_size}, {@code max_position_embeddings}, {@code type_vocab_size},
 * {@code layer_norm_eps}, {@code hidden_act} and {@code pad_token_id}.
 *
 * @param hiddenAct the HF name of the encoder's MLP activation: "gelu" (exact erf, BERT's default) or a tanh
 *                  approximation ("gelu_new", "gelu_pytorch_tanh", ...), see {@link Activation#fromHf}
 * @param padTokenId the id whose positions the tower masks when no attention mask is given (open_clip's
 *                   {@code ids != pad_token_id}, spec 04 §4 step 1)
 */
public record BertConfig(int vocab, int hidden, int layers, int heads, int intermediate, int maxPositions,
                         int typeVocab, double layerNormEps, String hiddenAct, int padTokenId) {

    public BertConfig {
        requirePositive("vocab_size", vocab);
        requirePositive("hidden_size", hidden);
        requirePositive("num_hidden_layers", layers);
        requirePositive("num_attention_heads", heads);
        requirePositive("intermediate_size", intermediate);
        requirePositive("max_position_embeddings", maxPositions);
        requirePositive("type_vocab_size", typeVocab);
        if (hidden % heads != 0) {
            throw new IllegalArgumentException("bert: hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        if (!(layerNormEps > 0) || !Double.isFinite(layerNormEps)) {
            throw new IllegalArgumentException("bert: layer_norm_eps must be a positive finite number, got " + layerNormEps);
        }
        if (hiddenAct == null) throw new IllegalArgumentException("bert: hidden_act is missing");
        try {
            Activation.fromHf(hiddenAct);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bert: " + e.getMessage(), e);
        }
        if (padTokenId < 0 || padTokenId >= vocab) {
            throw new IllegalArgumentException("bert: pad_token_id " + padTokenId + " is outside the vocabulary [0, " + vocab + ")");
        }
    }

    /** transformers' {@code BertConfig()} class defaults: bert-base-uncased. */
    public static BertConfig defaults() {
        return new BertConfig(30522, 768, 12, 12, 3072, 512, 2, 1e-12, "gelu", 0);
    }

    /**
     * {@code microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract} (formerly PubMedBERT), the text tower of BiomedCLIP
     * (spec 04 §2): bert-base shapes with its own 30522-word vocabulary, [PAD] = 0.
     */
    public static BertConfig biomedBertBase() {
        return defaults();
    }

    public int headDim() { return hidden / heads; }

    /** The activation of the encoder's MLP. */
    public Activation activation() { return Activation.fromHf(hiddenAct); }

    private static void requirePositive(String field, int value) {
        if (value <= 0) throw new IllegalArgumentException("bert: " + field + " must be positive, got " + value);
    }

    /**
     * Reads an HF BERT {@code config.json} ({@code path} is the file or its directory). Missing fields take the
     * transformers class defaults ({@link #defaults()}); a field of the wrong JSON type is an error naming the file
     * and the field, never a default. Refused because the tower would compute something else: a {@code model_type}
     * other than "bert" (RoBERTa's positions start after the pad id), a {@code position_embedding_type} other than
     * "absolute", and {@code is_decoder: true} (a causal mask). Dropout probabilities, initializer range and the like
     * do not affect inference and are ignored.
     */
    public static BertConfig load(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        JsonNode root = StrictJson.readConfig(file, "BERT config");
        ConfigFields f = ConfigFields.of(file, root);
        String modelType = f.string("model_type", "bert");
        if (!modelType.equals("bert")) {
            throw new ModelFormatException(file, "model_type is '" + modelType + "'; only 'bert' is supported here");
        }
        String positions = f.string("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw new ModelFormatException(file, "position_embedding_type '" + positions + "' is not supported (only 'absolute')");
        }
        if (f.bool("is_decoder", false)) {
            throw new ModelFormatException(file, "is_decoder is true: a causal BERT is not a text encoder this tower runs");
        }
        BertConfig d = defaults();
        try {
            return new BertConfig(
                    f.integer("vocab_size", d.vocab()),
                    f.integer("hidden_size", d.hidden()),
                    f.integer("num_hidden_layers", d.layers()),
                    f.integer("num_attention_heads", d.heads()),
                    f.integer("intermediate_size", d.intermediate()),
                    f.integer("max_position_embeddings", d.maxPositions()),
                    f.integer("type_vocab_size", d.typeVocab()),
                    f.number("layer_norm_eps", d.layerNormEps()),
                    f.string("hidden_act", d.hiddenAct()),
                    f.integer("pad_token_id", d.padTokenId()));
        } catch (IllegalArgumentException e) {  // the record's own checks: sizes that do not fit together
            throw new ModelFormatException(file, e.getMessage(), e);
        }
    }
}
